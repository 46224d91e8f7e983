from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest.urls import article_id, canonicalize, domain_of, is_tracking_param


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # tracking parameters removed, the others kept in order
        (
            "https://news.example.org/a?utm_source=rss&id=3&utm_medium=feed&fbclid=XYZ&page=2",
            "https://news.example.org/a?id=3&page=2",
        ),
        ("https://news.example.org/a?gclid=1&mc_cid=2&_ga=3&pk_campaign=4", "https://news.example.org/a"),
        ("https://news.example.org/a?UTM_Source=x&Ref=home", "https://news.example.org/a?Ref=home"),
        # case: scheme and host lower-case, the path untouched
        ("HTTPS://News.EXAMPLE.org/World/Story", "https://news.example.org/World/Story"),
        # default ports dropped, others kept
        ("http://news.example.org:80/a", "http://news.example.org/a"),
        ("https://news.example.org:443/a", "https://news.example.org/a"),
        ("https://news.example.org:80/a", "https://news.example.org:80/a"),
        ("http://news.example.org:8080/a", "http://news.example.org:8080/a"),
        # fragment dropped
        ("https://news.example.org/a#comments", "https://news.example.org/a"),
        ("https://news.example.org/a?x=1#top", "https://news.example.org/a?x=1"),
        # empty path, trailing dot of the host, surrounding space, credentials
        ("https://news.example.org", "https://news.example.org/"),
        ("https://news.example.org./a", "https://news.example.org/a"),
        ("  https://news.example.org/a  ", "https://news.example.org/a"),
        ("https://user:secret@news.example.org/a", "https://news.example.org/a"),
        # percent-encoding in one spelling
        ("https://news.example.org/caf%c3%a9", "https://news.example.org/caf%C3%A9"),
        ("https://news.example.org/café", "https://news.example.org/caf%C3%A9"),
        ("https://news.example.org/a b", "https://news.example.org/a%20b"),
        ("https://news.example.org/100%", "https://news.example.org/100%25"),
        ("https://news.example.org/s?q=a+b", "https://news.example.org/s?q=a%20b"),
        # IPv6 hosts keep their brackets
        ("http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
    ],
)
def test_canonicalize(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://news.example.org/a",
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
        "mailto:desk@news.example.org",
        "file:///etc/passwd",
        "/world/relative",
        "news.example.org/a",
        "",
        "https://",
        "https://news.example.org:99999/a",
        "https://news.example.org:port/a",
    ],
)
def test_canonicalize_refuses_what_is_not_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        canonicalize(url)


def test_variants_of_one_link_share_canonical_url_and_id() -> None:
    variants = [
        "https://news.example.org/world/story?id=7",
        "HTTPS://NEWS.example.org:443/world/story?id=7#comments",
        "https://news.example.org/world/story?utm_source=rss&id=7&fbclid=abc",
        "https://news.example.org./world/story?id=7&utm_campaign=spring",
    ]
    canonical = {canonicalize(v) for v in variants}
    assert canonical == {"https://news.example.org/world/story?id=7"}
    assert len({article_id(canonicalize(v)) for v in variants}) == 1


def test_decoding_a_percent_escape_twice_is_avoided() -> None:
    # "%2541" is a literal "%41", not "A": the canonical form must keep it so and stay put.
    once = canonicalize("https://news.example.org/%2541")
    assert once == "https://news.example.org/%2541"
    assert canonicalize(once) == once
    assert canonicalize("https://news.example.org/A") != once


_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_piece = st.one_of(
    _text,
    st.sampled_from(["%", "%25", "%2541", "%41", "%2F", "%3F", "%23", "+", "=", "&", "%zz", "%e9", "%C3%A9"]),
)
_param_name = st.one_of(
    st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "gclid", "id", "page", "q", "ref"]), _text
)


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = ".".join(draw(st.lists(_label, min_size=1, max_size=4)))
    if draw(st.booleans()):
        host = host.upper()
    port = draw(st.one_of(st.none(), st.sampled_from([80, 443]), st.integers(1, 65535)))
    path = "/".join(draw(st.lists(st.lists(_piece, max_size=3).map("".join), max_size=4)))
    params = draw(st.lists(st.tuples(_param_name, st.lists(_piece, max_size=2).map("".join)), max_size=4))
    query = "&".join(f"{quote(k)}={v}" for k, v in params)
    fragment = draw(_text)
    url = f"{scheme}://{host}" + (f":{port}" if port is not None else "") + "/" + path
    return url + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


@settings(max_examples=300)
@given(http_urls())
@example("https://news.example.org/%2541")
@example("HTTP://News.Example.org:80/a%252Fb?utm_source=x&q=%2525#frag")
def test_canonicalize_is_idempotent(url: str) -> None:
    try:
        canonical = canonicalize(url)
    except ValueError:
        return  # not every generated string is a valid URL; those that are must be stable
    assert canonicalize(canonical) == canonical
    assert "#" not in canonical
    assert not re.search(r"[?&](utm_[^=&]*|fbclid|gclid)=", canonical, re.IGNORECASE)


@given(st.sampled_from(["http://", "https://"]), st.text(max_size=40))
def test_canonicalize_is_idempotent_on_arbitrary_text(prefix: str, rest: str) -> None:
    try:
        canonical = canonicalize(prefix + rest)
    except ValueError:
        return
    assert canonicalize(canonical) == canonical


def test_article_id_is_stable() -> None:
    assert article_id("https://news.example.org/world/story") == "e2d845928dfa9bd2ecf10980305925ce"
    assert article_id("https://news.example.org/world/story") == article_id(
        "https://news.example.org/world/story"
    )
    assert article_id("https://news.example.org/world/story") != article_id(
        "https://news.example.org/world/story2"
    )


@pytest.mark.parametrize("key", ["https://news.example.org/", "guid:https://f.example/feed#id-1", "ünïcödé"])
def test_article_id_is_32_hex_digits(key: str) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", article_id(key))


@pytest.mark.parametrize(
    ("name", "tracking"),
    [
        ("utm_source", True),
        ("UTM_CONTENT", True),
        ("fbclid", True),
        ("_hsenc", True),
        ("mtm_kwd", True),
        ("id", False),
        ("page", False),
        ("utm", False),
    ],
)
def test_is_tracking_param(name: str, tracking: bool) -> None:
    assert is_tracking_param(name) is tracking


def test_domain_of() -> None:
    assert domain_of("https://News.Example.ORG:8443/a") == "news.example.org"
    assert domain_of("not a url") == ""
