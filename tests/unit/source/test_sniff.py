from __future__ import annotations

import gzip
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.source.sniff import FeedKind, sniff
from tests.unit.factories import DATA

FEEDS = DATA / "feeds"
KINDS = frozenset(typing.get_args(FeedKind))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("rss091.xml", "rss"),
        ("rss20.xml", "rss"),
        ("latin1.xml", "rss"),
        ("empty.rss", "rss"),
        ("rss10.rdf", "rdf"),
        ("atom10.xml", "atom"),
        ("jsonfeed10.json", "jsonfeed"),
        ("jsonfeed11.json", "jsonfeed"),
        ("news-sitemap.xml", "sitemap"),
        ("sitemap.xml", "sitemap"),
        ("sitemap-index.xml", "sitemapindex"),
        ("not-a-feed.html", "html"),
    ],
)
def test_fixtures(name: str, kind: FeedKind) -> None:
    body = (FEEDS / name).read_bytes()
    assert sniff(body, None) == kind
    assert sniff(body, "text/html") == kind  # the bytes decide, not the header
    assert sniff(gzip.compress(body), None) == kind


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'<rss version="2.0"><channel/></rss>', "rss"),
        (b'  \r\n\t<?xml version="1.0"?>\n<rss>', "rss"),
        (b"\xef\xbb\xbf<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'>", "atom"),
        (b'<?xml version="1.0"?><?xml-stylesheet href="s.xsl"?><!-- c --><!-- d --><atom:feed>', "atom"),
        (b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd"><rss>', "rss"),
        (b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'x'><!ENTITY b '&a;'>]><rss>", "rss"),
        (b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>", "rdf"),
        (b"<urlset>", "sitemap"),
        (b"<sm:sitemapindex xmlns:sm='http://www.sitemaps.org/schemas/sitemap/0.9'>", "sitemapindex"),
        (b"<!DOCTYPE html><html><head>", "html"),
        (b"<!doctype HTML>", "html"),
        (b"<HTML><BODY>", "html"),
        (b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'>", "html"),
        (b"<head><title>t</title></head>", "html"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "jsonfeed"),
        (b' {"version":"https:\\/\\/jsonfeed.org\\/version\\/1","items":[]}', "jsonfeed"),
        (
            b'{"items": [], "title": "' + b"x" * 200_000 + b'", "version": "https://jsonfeed.org/version/1"}',
            "jsonfeed",
        ),
        ('{"version": "https://jsonfeed.org/version/1.1"}'.encode("utf-16"), "jsonfeed"),
        ('<?xml version="1.0" encoding="utf-16"?><rss>'.encode("utf-16-le"), "rss"),
        ('<?xml version="1.0" encoding="utf-16"?><feed>'.encode("utf-16-be"), "atom"),
        ("<feed>".encode("utf-32"), "atom"),
        (b'{"items": []}', "unknown"),
        (b"[1, 2]", "unknown"),
        (b"", "unknown"),
        (b"   ", "unknown"),
        (b"just some text", "unknown"),
        (b"<opml version='2.0'>", "unknown"),
        (b"<br /><b>Warning</b>: something <?xml version='1.0'?><rss>", "unknown"),
        (b"<!-- a comment that never ends", "unknown"),
        (b"<?xml version='1.0'", "unknown"),
        (b"<!DOCTYPE rss [ <!ENTITY a 'x'> ", "unknown"),
        (b"<![CDATA[x]]>", "unknown"),
        (b"<1rss>", "unknown"),
        (b"\x1f\x8b\x08\x00garbage", "unknown"),
        (b"<!-- " + b"x" * 100_000 + b" --><rss>", "unknown"),  # the root is past the prefix sniffed
    ],
)
def test_bytes(body: bytes, kind: FeedKind) -> None:
    assert sniff(body, None) == kind


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        # The bytes win over a lying header.
        (b'{"version": "https://jsonfeed.org/version/1", "items": []}', "text/html", "jsonfeed"),
        (b"<rss version='2.0'>", "application/json", "rss"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'>", "text/plain", "atom"),
        (b"<!DOCTYPE html>", "application/rss+xml", "html"),
        # The header only decides what the bytes leave open.
        (b'{"items": []}', "application/feed+json", "jsonfeed"),
        (b'{"items": []}', "application/json; charset=utf-8", "jsonfeed"),
        (b"[1, 2]", "application/json", "unknown"),
        (b"<br />junk", "application/rss+xml", "rss"),
        (b"<br />junk", "application/atom+xml", "atom"),
        (b"<br />junk", "application/rdf+xml", "rdf"),
        (b"<br />junk", "text/html", "unknown"),
        (b"<br />junk", "", "unknown"),
    ],
)
def test_content_type_is_a_hint(body: bytes, content_type: str, kind: FeedKind) -> None:
    assert sniff(body, content_type) == kind


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=3000), st.none() | st.text(max_size=40))
def test_arbitrary_bytes_never_raise(body: bytes, content_type: str | None) -> None:
    assert sniff(body, content_type) in KINDS


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<?xml version='1.0'?>",
                "<?",
                "?>",
                "<!--",
                "-->",
                "<!DOCTYPE",
                "[",
                "]",
                ">",
                "<",
                "rss",
                "html",
                "{",
            ]
        )
        | st.text(max_size=5),
        max_size=20,
    ),
    st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1"]),
    st.booleans(),
)
def test_prolog_like_documents_never_raise(parts: list[str], encoding: str, packed: bool) -> None:
    body = "".join(parts).encode(encoding, "replace")
    assert sniff(gzip.compress(body) if packed else body, None) in KINDS
