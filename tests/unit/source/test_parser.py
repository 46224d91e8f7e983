from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ParseError
from ingest.models import FeedEntry
from ingest.source.parser import parse_feed
from ingest.source.sitemap import MAX_DECOMPRESSED_BYTES, SitemapIndex
from ingest.text import html_to_text
from tests.unit.factories import DATA

FEEDS = DATA / "feeds"


def parse(
    body: bytes,
    *,
    feed_url: str = "https://news.example.org/feed.xml",
    base_url: str | None = None,
    content_type: str | None = None,
    max_entries: int = 100,
    feed_tags: tuple[str, ...] = (),
) -> tuple[FeedEntry, ...]:
    return parse_feed(
        body,
        feed_url=feed_url,
        base_url=base_url or feed_url,
        content_type=content_type,
        max_entries=max_entries,
        feed_tags=feed_tags,
    )


def parse_file(name: str, feed_url: str, content_type: str | None = None) -> tuple[FeedEntry, ...]:
    return parse((FEEDS / name).read_bytes(), feed_url=feed_url, content_type=content_type)


def rss(items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test feed</title>'
        f"<link>https://f.example/</link>{channel}{items}</channel></rss>"
    ).encode()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- the sample feeds ----------------------------------------------------------------------------


def test_rss_091() -> None:
    entries = parse_file("rss091.xml", "https://news.example.org/rss091.xml")
    assert [e.key for e in entries] == [
        "https://news.example.org/local/library-exam-hours",
        "https://news.example.org/local/ferry-timetable",
    ]
    first = entries[0]
    assert first.title == "Library extends opening hours during exam season"
    assert first.summary == "The central library will stay open until 10pm on weekdays from April to June."
    assert first.guid is None
    assert first.feed_title == "Example News Online"
    assert first.language == "en-gb"
    assert first.language_code == "en"
    assert first.published_at is None  # none stated, none invented
    assert first.feed_url == "https://news.example.org/rss091.xml"


def test_rss_10_rdf() -> None:
    entries = parse_file("rss10.rdf", "https://news.example.org/science/rss.rdf")
    assert len(entries) == 2
    seagrass, comet = entries
    assert seagrass.key == "https://news.example.org/science/seagrass-restoration"
    assert seagrass.link == "https://news.example.org/science/seagrass-restoration"
    assert seagrass.title == "Volunteers replant seagrass meadow in the estuary"
    assert seagrass.authors == ("Hannah Quist",)
    assert seagrass.tags == ("Environment",)
    assert seagrass.published_at == utc(2026, 3, 10, 14, 30)  # dc:date, +01:00 -> UTC
    assert comet.published_at == utc(2026, 3, 9, 20, 5)
    assert comet.authors == ("Oskar Lindahl",)
    assert seagrass.language_code == "en"
    assert seagrass.feed_title == "Example News Online — Science"


def test_rss_20() -> None:
    feed_url = "https://news.example.org/world/rss.xml"
    relative, permalink, rich = parse_file("rss20.xml", feed_url)

    # A relative link is resolved against the feed's URL.
    assert relative.link == "https://news.example.org/world/relative-item"
    assert relative.key == "https://news.example.org/world/relative-item"
    assert relative.guid == "exn-world-5001"
    assert relative.authors == ("Amara Lewis",)
    assert relative.tags == ("World",)
    assert relative.published_at == utc(2026, 3, 10, 17, 20)

    # An item without <link> whose guid is a permalink is known by that URL.
    assert permalink.link == "https://news.example.org/world/permalink-only"
    assert permalink.key == "https://news.example.org/world/permalink-only"
    assert permalink.guid == "https://news.example.org/world/permalink-only"

    # content:encoded is kept as HTML; the description stays the summary.
    assert rich.content_html is not None
    assert "<strong>Northern Tern</strong>" in rich.content_html
    assert rich.summary == "A short teaser for an item that carries its full text in content:encoded."
    assert rich.tags == ("World", "Shipping")
    text = html_to_text(rich.content_html)
    assert text.startswith(
        "Rescue crews reached the stranded research vessel Northern Tern shortly after dawn"
    )
    assert "Crew: 11" in text
    assert relative.content_html is None


def test_rss_item_without_an_update_time_has_none() -> None:
    entries = parse_file("rss20.xml", "https://news.example.org/world/rss.xml")
    assert all(e.published_at is not None for e in entries)
    assert all(e.updated_at is None for e in entries)


def test_atom_with_xml_base() -> None:
    glacier, sponge = parse_file("atom10.xml", "https://news.example.org/science/atom.xml")
    assert glacier.key == "https://news.example.org/science/glacier-retreat"
    assert glacier.guid == "tag:news.example.org,2026-03-10:science/glacier-retreat"
    assert glacier.authors == ("Ingrid Solheim",)
    assert glacier.tags == ("Climate",)
    assert glacier.published_at == utc(2026, 3, 10, 11, 30)

    # <entry xml:base="https://news.example.org/science/"> with href="deep-sea-survey"
    assert sponge.link == "https://news.example.org/science/deep-sea-survey"
    assert sponge.published_at == utc(2026, 3, 9, 14, 0)
    assert sponge.updated_at == utc(2026, 3, 9, 16, 15)
    assert sponge.summary is not None
    assert sponge.summary.startswith("An expedition off the continental shelf")
    assert sponge.language_code == "en"
    assert sponge.feed_title == "Example News Online — Science"


def test_latin1_feed_is_decoded() -> None:
    cafe, regatta = parse_file("latin1.xml", "https://news.example.org/europe/rss.xml")
    assert cafe.title == "Café Müller am Hafen schließt nach 90 Jahren"
    assert cafe.authors == ("Jürgen Weiß",)
    assert cafe.summary is not None
    assert "Käthe Müller" in cafe.summary
    assert "Käsekuchen" in cafe.summary
    assert regatta.title == "Fête de la mer : la régate d'Étretat attire 200 voiliers"
    assert regatta.authors == ("Hélène Dubois",)
    assert cafe.language_code == "de"
    assert cafe.published_at == utc(2026, 3, 9, 9, 0)


def test_latin1_feed_served_with_a_wrong_charset_header_is_still_text() -> None:
    entries = parse_file(
        "latin1.xml", "https://news.example.org/europe/rss.xml", "text/xml; charset=iso-8859-1"
    )
    assert entries[0].title == "Café Müller am Hafen schließt nach 90 Jahren"


@pytest.mark.parametrize("content_type", ["text/html", "application/rss+xml", None])
def test_html_page_is_not_a_feed(content_type: str | None) -> None:
    with pytest.raises(ParseError, match=r"web page .*discovery can find the feeds") as caught:
        parse_file("not-a-feed.html", "https://news.example.org/about", content_type)
    assert caught.value.reason == "html_not_feed"
    assert caught.value.url == "https://news.example.org/about"


def test_a_feed_wrapped_in_an_html_page_is_still_read() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x.dtd">'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><body><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>Wrapped</title><entry><id>urn:a</id><link href='https://f.example/a'/></entry></feed>"
        b"</body></html>"
    )
    (entry,) = parse(body)
    assert entry.key == "https://f.example/a"
    with pytest.raises(ParseError) as caught:
        parse(b"<!DOCTYPE html><html><body><rss>not really</rss></body></html>")
    assert caught.value.reason == "html_not_feed"


def test_markup_without_feed_elements_served_as_html_is_a_web_page() -> None:
    with pytest.raises(ParseError) as caught:
        parse(b"<div><p>Hello</p></div>", content_type="text/html; charset=utf-8")
    assert caught.value.reason == "html_not_feed"


def test_empty_feed_has_no_entries() -> None:
    assert parse_file("empty.rss", "https://news.example.org/corrections/rss.xml") == ()


@pytest.mark.parametrize("body", [b"", b"   ", b"just some text", b"\x00\x01\x02", b'{"items": []}', b"[]"])
def test_what_is_not_a_feed_raises(body: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed") as caught:
        parse(body)
    assert caught.value.reason == "not_a_feed"


# -- other formats, chosen by the bytes ----------------------------------------------------------


def test_json_feed() -> None:
    entries = parse_file(
        "jsonfeed11.json", "https://news.example.org/science/feed.json", "application/feed+json"
    )
    assert [e.key for e in entries] == [
        "https://news.example.org/science/aurora-forecast",
        "https://news.example.org/science/wissenschaftsnacht",
        "https://news.example.org/science/time-capsule",
    ]


def test_json_feed_bounds_and_tags() -> None:
    body = (FEEDS / "jsonfeed10.json").read_bytes()
    entries = parse(body, max_entries=2, feed_tags=("local",))
    assert [e.guid for e in entries] == ["3101", "exn-local-3102"]
    assert all(e.feed_tags == ("local",) for e in entries)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', None, "invalid_feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', None, "invalid_json"),
        (b'{"items": []}', "application/feed+json", "not_a_feed"),
    ],
)
def test_broken_json_feeds(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body, content_type=content_type)
    assert caught.value.reason == reason


def test_google_news_sitemap() -> None:
    entries = parse_file("news-sitemap.xml", "https://news.example.org/sitemaps/news.xml", "text/xml")
    assert [e.title for e in entries] == [
        "Port authority approves €2bn container terminal expansion",
        "Stadtfest: Straßen am Wochenende gesperrt",
        "Late goal settles the city derby & keeps title race open",
    ]
    assert entries[0].published_at == utc(2026, 3, 10, 10, 30)


def test_gzipped_sitemap_served_as_a_binary_download() -> None:
    body = gzip.compress((FEEDS / "sitemap.xml").read_bytes())
    entries = parse(body, content_type="application/x-gzip", max_entries=2)
    assert [e.key for e in entries] == [
        "https://news.example.org/",
        "https://news.example.org/world/harbour-strike-ends",
    ]


def test_gzip_bomb_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse(gzip.compress(b" " * (MAX_DECOMPRESSED_BYTES + 1)))
    assert caught.value.reason == "too_large"


def test_sitemap_index_raises_with_its_children() -> None:
    with pytest.raises(SitemapIndex) as caught:
        parse_file("sitemap-index.xml", "https://news.example.org/sitemap.xml", "application/xml")
    assert isinstance(caught.value, ParseError)
    assert caught.value.reason == "sitemap_index"
    assert caught.value.url == "https://news.example.org/sitemap.xml"
    assert caught.value.children == (
        "https://news.example.org/sitemaps/news.xml",
        "https://news.example.org/sitemaps/2026-03.xml.gz",
        "https://news.example.org/sitemaps/2026-02.xml.gz",
    )


@pytest.mark.parametrize(
    ("name", "content_type", "first_key"),
    [
        ("jsonfeed10.json", "text/html", "https://news.example.org/local/bridge-repairs"),
        ("jsonfeed11.json", "text/html; charset=utf-8", "https://news.example.org/science/aurora-forecast"),
        ("rss20.xml", "application/json", "https://news.example.org/world/relative-item"),
        ("rss091.xml", "application/feed+json", "https://news.example.org/local/library-exam-hours"),
        ("atom10.xml", "text/plain", "https://news.example.org/science/glacier-retreat"),
        ("atom10.xml", "text/html", "https://news.example.org/science/glacier-retreat"),
        ("news-sitemap.xml", "text/html", "https://news.example.org/business/port-expansion"),
        ("sitemap.xml", "application/json", "https://news.example.org/"),
    ],
)
def test_a_lying_content_type_does_not_matter(name: str, content_type: str, first_key: str) -> None:
    honest = parse_file(name, "https://news.example.org/feed", None)
    lied_to = parse_file(name, "https://news.example.org/feed", content_type)
    assert lied_to[0].key == first_key
    assert [(e.key, e.title, e.published_at, e.summary, e.authors) for e in lied_to] == [
        (e.key, e.title, e.published_at, e.summary, e.authors) for e in honest
    ]


def test_atom_served_as_text_plain_keeps_its_non_ascii_text() -> None:
    (entry,) = parse(
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Ünïcödé</title>"
        "<entry><id>urn:x</id><title>Café crème</title><link href='https://f.example/a'/></entry></feed>".encode(),
        content_type="text/plain",
    )
    assert entry.title == "Café crème"
    assert entry.feed_title == "Ünïcödé"


# -- identity and links --------------------------------------------------------------------------


def test_key_is_the_canonical_url() -> None:
    (entry,) = parse(
        rss("<item><title>T</title><link>HTTPS://F.Example:443/a?utm_source=x&amp;id=3#top</link></item>")
    )
    assert entry.link is not None
    assert entry.link.endswith("/a?utm_source=x&id=3#top")  # the link as given, not canonical
    assert entry.canonical_url == "https://f.example/a?id=3"
    assert entry.key == "https://f.example/a?id=3"


def test_key_falls_back_to_the_guid() -> None:
    (entry,) = parse(
        rss('<item><title>T</title><guid isPermaLink="false"> id-42 </guid></item>'),
        feed_url="https://F.example/feed.xml?utm_source=x",
    )
    assert entry.link is None
    assert entry.canonical_url is None
    assert entry.guid == "id-42"
    assert entry.key == "guid:https://f.example/feed.xml#id-42"


@pytest.mark.parametrize(
    "link", ["javascript:alert(document.cookie)", "data:text/html;base64,PHA+aGk8L3A+", "ftp://f.example/a"]
)
def test_non_http_links_are_ignored(link: str) -> None:
    (entry,) = parse(
        rss(f'<item><title>T</title><link>{link}</link><guid isPermaLink="false">g1</guid></item>')
    )
    assert entry.link is None
    assert entry.canonical_url is None
    assert entry.key.startswith("guid:")
    assert entry.key.endswith("#g1")


def test_entry_without_http_link_or_guid_is_skipped() -> None:
    body = rss(
        "<item><title>JS</title><link>javascript:alert(1)</link></item>"
        "<item><title>Data</title><link>data:text/html,hi</link></item>"
        "<item><title>Nothing</title><description>No link at all</description></item>"
        "<item><title>Kept</title><link>https://f.example/kept</link></item>"
    )
    entries = parse(body)
    assert [e.title for e in entries] == ["Kept"]


def test_max_entries() -> None:
    items = "".join(f"<item><title>T{i}</title><link>https://f.example/{i}</link></item>" for i in range(10))
    entries = parse(rss(items), max_entries=3)
    assert [e.link for e in entries] == ["https://f.example/0", "https://f.example/1", "https://f.example/2"]


def test_feed_tags_and_discovery_time() -> None:
    before = datetime.now(UTC)
    (entry,) = parse(rss("<item><link>https://f.example/a</link></item>"), feed_tags=("world", "europe"))
    assert entry.feed_tags == ("world", "europe")
    assert before <= entry.discovered_at <= datetime.now(UTC)


def test_implausible_dates_are_dropped() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(hours=6))
    later = format_datetime(datetime.now(UTC) + timedelta(days=3))
    body = rss(
        f"<item><link>https://f.example/soon</link><pubDate>{soon}</pubDate></item>"
        f"<item><link>https://f.example/future</link><pubDate>{later}</pubDate></item>"
        "<item><link>https://f.example/far</link><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
        "<item><link>https://f.example/old</link><pubDate>Mon, 01 Jan 1979 00:00:00 GMT</pubDate></item>"
        "<item><link>https://f.example/ok</link><pubDate>Mon, 02 Mar 2026 08:00:00 GMT</pubDate></item>"
    )
    dates = {e.link: e.published_at for e in parse(body)}
    # Within a day of now is clock skew and kept; further ahead or before 1990 is implausible.
    assert dates.pop("https://f.example/soon") is not None
    assert dates == {
        "https://f.example/future": None,
        "https://f.example/far": None,
        "https://f.example/old": None,
        "https://f.example/ok": utc(2026, 3, 2, 8, 0),
    }


def test_title_and_summary_markup_becomes_text() -> None:
    (entry,) = parse(
        rss(
            "<item><title>Fish &amp;amp; &lt;b&gt;chips&lt;/b&gt;</title><link>https://f.example/a</link>"
            "<description>&lt;p&gt;One&lt;/p&gt;&lt;script&gt;evil()&lt;/script&gt;&lt;p&gt;Two&lt;/p&gt;"
            "</description></item>"
        )
    )
    assert entry.title == "Fish & chips"
    assert entry.summary == "One\n\nTwo"


def test_control_characters_in_entry_markup_do_not_escape_as_other_errors() -> None:
    (entry,) = parse(
        rss(
            "<item><link>https://f.example/a</link><description>&lt;p&gt;a&#x1f;b&lt;/p&gt;</description></item>"
        )
    )
    assert entry.summary == "ab"


def test_feedparser_internal_failure_is_a_parse_error() -> None:
    # A stray </category> after its item closed makes feedparser itself raise KeyError.
    with pytest.raises(ParseError, match="feed parser failed: KeyError"):
        parse(b'<item><category></item>"/></category>')


def test_duplicate_authors_are_listed_once() -> None:
    (entry,) = parse(
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><id>urn:x</id><link href='https://f.example/a'/><author><name>Ann Lee</name></author>"
        b"<author><name> Ann  Lee </name></author><author><name>Bo Chen</name></author></entry></feed>"
    )
    assert entry.authors == ("Ann Lee", "Bo Chen")


# -- robustness ----------------------------------------------------------------------------------


def _parse_or_parse_error(body: bytes) -> None:
    try:
        entries = parse(body, max_entries=20)
    except ParseError:
        return
    assert isinstance(entries, tuple)
    for entry in entries:
        assert isinstance(entry, FeedEntry)
        assert entry.key.startswith(("http://", "https://", "guid:"))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_entries_or_parse_error(body: bytes) -> None:
    _parse_or_parse_error(body)


_FRAGMENTS = st.sampled_from(
    [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        "</channel></rss>",
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        "</feed>",
        "<item>",
        "</item>",
        "<entry>",
        "</entry>",
        "<link>",
        "</link>",
        '<link href="',
        '"/>',
        "<guid>",
        "</guid>",
        "<id>",
        "</id>",
        "<title>",
        "</title>",
        "<description>",
        "</description>",
        "<pubDate>",
        "</pubDate>",
        "<author>",
        "</author>",
        "<category>",
        "</category>",
        "<![CDATA[",
        "]]>",
        "https://f.example/a",
        "http://[::1",
        "javascript:x()",
        "/relative",
        "Tue, 10 Mar 2026 17:20:00 +0000",
        "Tue, 10 Mar 9999 17:20:00 +0000",
        "&amp;",
        "&#31;",
        "&#0;",
        "&lt;p&gt;",
        "<p>",
        "é",
        " ",
        "\x00",
        "\x1f",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=6)), max_size=40))
def test_feed_like_documents_give_entries_or_parse_error(parts: list[str]) -> None:
    _parse_or_parse_error("".join(parts).encode("utf-8", "surrogatepass"))


# -- real-world feeds ----------------------------------------------------------------------------

SHARED_FEEDS = Path("/work/shared/data/feeds")
_SHARED = sorted(p for p in SHARED_FEEDS.rglob("*") if p.is_file()) if SHARED_FEEDS.is_dir() else []


@pytest.mark.skipif(not _SHARED, reason=f"no feed corpus at {SHARED_FEEDS}")
@pytest.mark.parametrize("path", _SHARED, ids=lambda p: str(p.relative_to(SHARED_FEEDS)))
def test_real_world_documents_give_entries_or_parse_error(path: Path) -> None:
    """Every document of the shared corpus parses into entries or is refused with a reason, quickly."""
    url = f"https://feeds.example.org/{path.relative_to(SHARED_FEEDS).as_posix()}"
    started = time.perf_counter()
    try:
        entries = parse(path.read_bytes(), feed_url=url, max_entries=500)
    except ParseError:
        entries = ()
    assert time.perf_counter() - started < 5.0
    assert all(isinstance(e, FeedEntry) for e in entries)
    assert all(e.key.startswith(("http://", "https://", "guid:")) for e in entries)


class _Detector:
    """chardet's interface, recording what it was asked to read."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def detect(self, data: bytes) -> dict[str, str | None]:
        self.sizes.append(len(data))
        return {"encoding": "iso-8859-2"}


def test_an_encoding_is_guessed_from_a_prefix_when_the_declared_one_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # chardet, where installed, reads whatever it is given in pure Python: seconds per 100 kB.
    import feedparser.encodings

    detector = _Detector()
    monkeypatch.setattr(feedparser.encodings, "chardet", detector)
    filler = b"<!-- " + b"\xe9" * 200_000 + b" -->"
    feed = (
        b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>F</title>" + filler
        + b"<item><title>Caf\xe9</title><link>https://news.example.org/a</link></item></channel></rss>"
    )  # fmt: skip
    entries = parse(feed)
    assert [e.link for e in entries] == ["https://news.example.org/a"]
    assert detector.sizes
    assert max(detector.sizes) <= 4096
