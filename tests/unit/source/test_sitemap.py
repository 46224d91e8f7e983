from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ParseError
from ingest.models import FeedEntry
from ingest.source.sitemap import (
    MAX_DECOMPRESSED_BYTES,
    MAX_FOLLOWED,
    SitemapIndex,
    gunzip,
    parse_sitemap,
    recent_children,
    sitemap_children,
)
from tests.unit.factories import DATA

FEEDS = DATA / "feeds"
FEED_URL = "https://news.example.org/sitemaps/news.xml"
SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def parse(
    body: bytes, *, max_entries: int = 100, base_url: str = FEED_URL, feed_tags: tuple[str, ...] = ()
) -> tuple[FeedEntry, ...]:
    return parse_sitemap(
        body, feed_url=FEED_URL, base_url=base_url, max_entries=max_entries, feed_tags=feed_tags
    )


def urlset(urls: str, namespaces: str = f"{SITEMAP_NS} {NEWS_NS}") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {namespaces}>{urls}</urlset>'.encode()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- the sample sitemaps -------------------------------------------------------------------------


def test_google_news_sitemap() -> None:
    port, fest, derby = parse((FEEDS / "news-sitemap.xml").read_bytes(), feed_tags=("business",))

    assert port.link == "https://news.example.org/business/port-expansion?utm_medium=sitemap"
    assert port.key == "https://news.example.org/business/port-expansion"
    assert port.canonical_url == port.key
    assert port.guid is None
    assert port.title == "Port authority approves €2bn container terminal expansion"
    assert port.published_at == utc(2026, 3, 10, 10, 30)
    assert port.updated_at == utc(2026, 3, 10, 11, 45)  # <lastmod>
    assert port.feed_title == "Example News Online"
    assert port.language_code == "en"
    assert port.tags == ("Business", "Shipping", "Port")
    assert port.feed_tags == ("business",)
    assert port.feed_url == FEED_URL
    assert (port.summary, port.content_html, port.authors) == (None, None, ())

    # A publication date without a time: no publication time.
    assert fest.published_at is None
    assert fest.title == "Stadtfest: Straßen am Wochenende gesperrt"
    assert fest.feed_title == "Example News Online Deutsch"
    assert fest.language_code == "de"
    assert fest.tags == ()

    # W3C datetime without seconds; an escaped ampersand.
    assert derby.published_at == utc(2026, 3, 9, 21, 58)
    assert derby.title == "Late goal settles the city derby & keeps title race open"
    # The javascript: link was skipped.


def test_plain_sitemap() -> None:
    home, strike, budget, tram = parse((FEEDS / "sitemap.xml").read_bytes())
    assert home.key == "https://news.example.org/"
    assert strike.key == "https://news.example.org/world/harbour-strike-ends"
    assert strike.updated_at == utc(2026, 3, 10, 14, 20)
    assert budget.link == "https://news.example.org/local/council-budget?id=7&page=2"  # stripped
    assert tram.key == "https://news.example.org/local/tram-line"
    for entry in (home, strike, budget, tram):  # link only; lastmod is never a publication time
        assert (entry.title, entry.published_at, entry.feed_title, entry.language, entry.tags) == (
            None,
            None,
            None,
            None,
            (),
        )
    assert budget.updated_at is None  # a date only
    assert tram.updated_at is None  # a time without a zone


def test_sitemap_index_children() -> None:
    assert sitemap_children((FEEDS / "sitemap-index.xml").read_bytes()) == (
        "https://news.example.org/sitemaps/news.xml",
        "https://news.example.org/sitemaps/2026-03.xml.gz",
        "https://news.example.org/sitemaps/2026-02.xml.gz",
    )


def test_sitemap_index_is_not_a_urlset() -> None:
    with pytest.raises(ParseError, match="root element is <sitemapindex>") as caught:
        parse((FEEDS / "sitemap-index.xml").read_bytes())
    assert caught.value.reason == "not_a_feed"
    with pytest.raises(ParseError, match="root element is <urlset>"):
        sitemap_children((FEEDS / "sitemap.xml").read_bytes(), url=FEED_URL)


def test_sitemap_index_error_carries_its_children() -> None:
    error = SitemapIndex("index", url=FEED_URL, children=("https://f.example/a.xml",))
    assert isinstance(error, ParseError)
    assert error.reason == "sitemap_index"
    assert error.children == ("https://f.example/a.xml",)


# -- gzip ----------------------------------------------------------------------------------------


def test_gzipped_sitemap() -> None:
    plain = (FEEDS / "news-sitemap.xml").read_bytes()
    unpacked = [(e.key, e.title, e.published_at) for e in parse(plain)]
    assert [(e.key, e.title, e.published_at) for e in parse(gzip.compress(plain))] == unpacked
    index = gzip.compress((FEEDS / "sitemap-index.xml").read_bytes())
    assert len(sitemap_children(index)) == 3


def test_gzip_members_are_concatenated_and_plain_bodies_pass_through() -> None:
    assert (
        gunzip(gzip.compress(b"<urlset>") + gzip.compress(b"</urlset>"), url=FEED_URL) == b"<urlset></urlset>"
    )
    assert gunzip(b"<urlset/>", url=FEED_URL) == b"<urlset/>"


def test_truncated_gzip_gives_what_it_holds() -> None:
    packed = gzip.compress(
        urlset("".join(f"<url><loc>https://f.example/{i}</loc></url>" for i in range(200)))
    )
    entries = parse(packed[: len(packed) // 2])
    assert 0 < len(entries) < 200


def test_gzip_bomb_is_too_large() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * MAX_DECOMPRESSED_BYTES, compresslevel=9)
    with pytest.raises(ParseError) as caught:
        parse(bomb)
    assert caught.value.reason == "too_large"


def test_corrupt_gzip() -> None:
    with pytest.raises(ParseError) as caught:
        parse(b"\x1f\x8b\x08\x00" + b"\xff" * 40)
    assert caught.value.reason == "invalid_gzip"


# -- rules and limits ----------------------------------------------------------------------------


def test_max_entries_bounds_the_urls_read() -> None:
    body = urlset("".join(f"<url><loc>https://f.example/{i}</loc></url>" for i in range(10)))
    assert [e.link for e in parse(body, max_entries=3)] == [f"https://f.example/{i}" for i in range(3)]
    assert parse(body, max_entries=0) == ()


def test_relative_loc_is_resolved_and_empty_urlset_has_no_entries() -> None:
    (entry,) = parse(urlset("<url><loc>/world/a</loc></url>"), base_url="https://f.example/sitemap.xml")
    assert entry.link == "https://f.example/world/a"
    assert parse(urlset("")) == ()


def test_sitemap_without_namespace_and_old_google_namespace() -> None:
    (bare,) = parse(urlset("<url><loc>https://f.example/a</loc></url>", namespaces=""))
    assert bare.key == "https://f.example/a"
    old = 'xmlns="http://www.google.com/schemas/sitemap/0.84"'
    (legacy,) = parse(urlset("<url><loc>https://f.example/b</loc></url>", namespaces=old))
    assert legacy.key == "https://f.example/b"


def test_elements_of_another_namespace_named_news_are_not_news() -> None:
    body = urlset(
        '<url><loc>https://f.example/a</loc><x:news xmlns:x="https://other.example/ns">'
        "<x:title>Not a news title</x:title></x:news></url>"
    )
    (entry,) = parse(body)
    assert entry.title is None


def test_implausible_publication_dates_are_dropped() -> None:
    body = urlset(
        "<url><loc>https://f.example/a</loc><news:news><news:publication_date>2099-01-01T00:00:00Z"
        "</news:publication_date></news:news></url>"
        "<url><loc>https://f.example/b</loc><news:news><news:publication_date>1989-12-31T23:00:00Z"
        "</news:publication_date></news:news></url>"
        "<url><loc>https://f.example/c</loc><news:news><news:publication_date>2026-03-10T10:00:00.5+01:00"
        "</news:publication_date></news:news></url>"
    )
    assert [e.published_at for e in parse(body)] == [
        None,
        None,
        datetime(2026, 3, 10, 9, 0, 0, 500000, tzinfo=UTC),
    ]


def test_broken_tail_keeps_the_urls_before_it() -> None:
    body = urlset("<url><loc>https://f.example/a</loc></url><url><loc>https://f.example/b</loc></url>")
    entries = parse(body[: body.index(b"https://f.example/b")])
    assert [e.key for e in entries] == ["https://f.example/a"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "invalid_xml"),
        (b"<urlset><url><loc>https://f.example/a", "invalid_xml"),
        (b"<rss version='2.0'/>", "not_a_feed"),
        (b"<html><body>page</body></html>", "not_a_feed"),
    ],
)
def test_what_is_not_a_sitemap_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body)
    assert caught.value.reason == reason
    assert caught.value.url == FEED_URL


def test_external_entities_are_not_resolved() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<urlset " + NEWS_NS.encode() + b"><url><loc>https://f.example/a</loc><news:news><news:title>"
        b"T &x; end</news:title></news:news></url></urlset>"
    )
    (entry,) = parse(body)
    assert entry.title is not None
    assert "root:" not in entry.title


def test_entity_expansion_bomb_is_not_expanded() -> None:
    laughs = (
        b"<?xml version='1.0'?><!DOCTYPE urlset [<!ENTITY a 'aaaaaaaaaa'>"
        + b"".join(f"<!ENTITY {chr(98 + i)} '{('&' + chr(97 + i) + ';') * 10}'>".encode() for i in range(8))
        + b"]><urlset "
        + NEWS_NS.encode()
        + b"><url><loc>https://f.example/a</loc><news:news><news:title>&i;"
        b"</news:title></news:news></url></urlset>"
    )
    try:
        entries = parse(laughs)
    except ParseError as exc:  # libxml2 refuses the amplification outright
        reason = exc.reason
        entries = ()
    else:
        reason = "parsed"
    assert reason in ("invalid_xml", "parsed")
    assert all(e.title is None or len(e.title) < 100 for e in entries)


# -- robustness ----------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        '<?xml version="1.0" encoding="utf-8"?>',
        f"<urlset {SITEMAP_NS} {NEWS_NS}>",
        "<urlset>",
        "</urlset>",
        "<sitemapindex>",
        "</sitemapindex>",
        "<sitemap>",
        "</sitemap>",
        "<url>",
        "</url>",
        "<loc>",
        "</loc>",
        "<lastmod>",
        "</lastmod>",
        "<news:news>",
        "</news:news>",
        "<news:publication>",
        "</news:publication>",
        "<news:name>",
        "</news:name>",
        "<news:language>",
        "</news:language>",
        "<news:title>",
        "</news:title>",
        "<news:publication_date>",
        "</news:publication_date>",
        "<news:keywords>",
        "</news:keywords>",
        "https://f.example/a",
        "http://[::1",
        "2026-03-10T10:00:00Z",
        "2026-13-40T25:61:61+99:99",
        "&amp;",
        "&#0;",
        "&x;",
        ",",
        "<![CDATA[",
        "]]>",
        "\x00",
        "é",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=6)), max_size=40), st.booleans())
def test_sitemap_like_documents_give_entries_or_parse_error(parts: list[str], packed: bool) -> None:
    body = "".join(parts).encode("utf-8", "surrogatepass")
    if packed:
        body = gzip.compress(body)
    for read in (lambda: parse(body, max_entries=20), lambda: sitemap_children(body)):
        try:
            result = read()
        except ParseError:
            continue
        assert isinstance(result, tuple)


# -- which children of an index are polled ----------------------------------------------------------


def _index(*children: tuple[str, str | None]) -> bytes:
    items = "".join(
        f"<sitemap><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</sitemap>"
        for loc, mod in children
    )
    return f"<sitemapindex {SITEMAP_NS}>{items}</sitemapindex>".encode()


def test_dated_children_newest_first_within_two_days_of_the_newest() -> None:
    body = _index(
        ("https://f.example/2019.xml", "2019-12-31"),
        ("https://f.example/news-sport.xml", "2026-03-09T22:00:00Z"),
        ("https://f.example/undated.xml", None),
        ("https://f.example/news.xml", "2026-03-10T12:45:00+01:00"),
        ("https://f.example/2026-03-07.xml", "2026-03-07"),
    )
    assert recent_children(body) == ("https://f.example/news.xml", "https://f.example/news-sport.xml")


def test_undated_children_are_taken_in_order_up_to_the_limit() -> None:
    body = _index(*((f"https://f.example/{n}.xml", None) for n in range(MAX_FOLLOWED + 5)))
    chosen = recent_children(body)
    assert len(chosen) == MAX_FOLLOWED
    assert chosen[0] == "https://f.example/0.xml"


def test_the_fixture_index_follows_its_one_dated_child() -> None:
    assert recent_children((FEEDS / "sitemap-index.xml").read_bytes()) == (
        "https://news.example.org/sitemaps/news.xml",
    )
