from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ParseError
from ingest.models import FeedEntry
from ingest.source.jsonfeed import parse_json_feed
from tests.unit.factories import DATA

FEEDS = DATA / "feeds"
FEED_URL = "https://news.example.org/local/feed.json"
V11 = "https://jsonfeed.org/version/1.1"


def parse(
    body: bytes | dict[str, Any],
    *,
    feed_url: str = FEED_URL,
    base_url: str | None = None,
    max_entries: int = 100,
    feed_tags: tuple[str, ...] = (),
) -> tuple[FeedEntry, ...]:
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    return parse_json_feed(
        body, feed_url=feed_url, base_url=base_url or feed_url, max_entries=max_entries, feed_tags=feed_tags
    )


def feed(*items: Any, **fields: Any) -> dict[str, Any]:
    return {"version": V11, "title": "Test feed", "items": list(items), **fields}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# -- the sample feeds ----------------------------------------------------------------------------


def test_json_feed_10() -> None:
    bridge, frost, letters, odd = parse((FEEDS / "jsonfeed10.json").read_bytes())

    # A relative url is resolved against home_page_url; a numeric id is the GUID.
    assert bridge.link == "https://news.example.org/local/bridge-repairs"
    assert bridge.key == "https://news.example.org/local/bridge-repairs"
    assert bridge.guid == "3101"
    assert bridge.title == "Old harbour bridge closes for six weeks of repairs"
    assert bridge.content_html is not None
    assert "<strong>old harbour bridge</strong>" in bridge.content_html
    assert bridge.summary == "Repairs to the 1911 swing bridge start on Monday."
    assert bridge.published_at == utc(2026, 3, 10, 7, 15)
    assert bridge.updated_at == datetime(2026, 3, 10, 8, 40, 30, 250000, tzinfo=UTC)
    assert bridge.authors == ("Tomasz Nowak",)  # 1.0 ``author`` object
    assert bridge.tags == ("Transport", "Harbour")
    assert bridge.feed_title == "Example News Online — Local"
    assert bridge.feed_url == FEED_URL

    # No url: external_url is the link; content_text is the summary.
    assert frost.link == "https://weather.example.net/reports/spring-frost?utm_source=exn"
    assert frost.key == "https://weather.example.net/reports/spring-frost"
    assert frost.summary == (
        "Growers are asked to cover blossom overnight.\n\nTemperatures may fall to minus four degrees."
    )
    assert frost.content_html is None
    assert frost.published_at == utc(2026, 3, 9, 21, 0)
    assert frost.authors == ("Example News Online",)  # the feed's author, for an item without one

    # No link at all: known by its id within the feed; a date without a time is not a time.
    assert letters.link is None
    assert letters.key == "guid:https://news.example.org/local/feed.json#exn-local-3103"
    assert letters.published_at is None

    # Fields of the wrong type are ignored; the non-object item and the id-less one are skipped.
    assert odd.key == "guid:https://news.example.org/local/feed.json#42"
    assert (odd.link, odd.title, odd.summary, odd.tags, odd.published_at) == (None, None, None, (), None)
    assert odd.authors == ("Example News Online",)


def test_json_feed_11() -> None:
    aurora, nacht, capsule = parse(
        (FEEDS / "jsonfeed11.json").read_bytes(), feed_url="https://news.example.org/science/feed.json"
    )
    assert aurora.key == "https://news.example.org/science/aurora-forecast"
    assert aurora.link == "https://news.example.org/science/aurora-forecast#top"
    assert aurora.guid == "https://news.example.org/science/aurora-forecast"
    # 1.1 ``authors``: names cleaned, repeats and name-less authors left out.
    assert aurora.authors == ("Priya Raman", "Jonas Lee")
    # A fraction of more than six digits, an offset: to UTC.
    assert aurora.published_at == datetime(2026, 3, 10, 21, 5, 0, 123456, tzinfo=UTC)
    assert aurora.tags == ("Space", "Weather")
    assert aurora.language == "en-GB"  # the feed's language
    assert aurora.language_code == "en"

    assert nacht.link == "https://news.example.org/science/wissenschaftsnacht"
    assert nacht.language_code == "de"  # the item's language wins
    assert nacht.summary == "Labore und Hörsäle öffnen bis Mitternacht."
    assert nacht.published_at == utc(2026, 3, 9, 18, 0)
    assert nacht.updated_at is None  # no zone: not a moment
    assert nacht.authors == ("Science desk",)

    # 2099 is too far ahead, 1985 too far back.
    assert (capsule.published_at, capsule.updated_at) == (None, None)
    assert capsule.feed_title == "Example News Online — Science"


# -- mapping rules -------------------------------------------------------------------------------


def test_relative_urls_fall_back_to_the_feed_url_then_the_served_url() -> None:
    item = {"id": "1", "url": "story"}
    (stated,) = parse(feed(item, feed_url="https://f.example/news/feed.json"))
    assert stated.link == "https://f.example/news/story"
    (served,) = parse(feed(item, home_page_url="not a url"), base_url="https://g.example/a/feed.json")
    assert served.link == "https://g.example/a/story"


def test_url_that_is_not_http_falls_back_to_external_url() -> None:
    (entry,) = parse(feed({"id": "1", "url": "javascript:alert(1)", "external_url": "https://f.example/x"}))
    assert entry.link == "https://f.example/x"


def test_summary_wins_over_content_text() -> None:
    (entry,) = parse(feed({"id": "1", "summary": "Short.", "content_text": "Long text."}))
    assert entry.summary == "Short."


def test_modified_date_stands_in_for_a_missing_publication_date() -> None:
    (entry,) = parse(feed({"id": "1", "date_modified": "2026-03-10T10:00:00+02:00"}))
    assert entry.published_at == utc(2026, 3, 10, 8, 0)
    assert entry.updated_at == utc(2026, 3, 10, 8, 0)


def test_a_date_within_a_day_ahead_is_kept() -> None:
    soon = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    first, second = parse(feed({"id": "1", "date_published": soon}, {"id": "2", "date_published": later}))
    assert first.published_at is not None
    assert second.published_at is None


def test_feed_tags_numbers_as_ids_and_whitespace() -> None:
    body = feed({"id": 7.0}, {"id": 2.5}, {"id": "  x  "}, {"id": True}, {"id": ""}, {"id": None})
    entries = parse(body, feed_tags=("local",))
    assert [e.guid for e in entries] == ["7", "2.5", "x"]
    assert all(e.feed_tags == ("local",) for e in entries)


def test_max_entries_bounds_the_items_read() -> None:
    items = [{"id": str(i), "url": f"https://f.example/{i}"} for i in range(10)]
    assert [e.guid for e in parse(feed(*items), max_entries=3)] == ["0", "1", "2"]
    assert parse(feed(*items), max_entries=0) == ()


def test_http_version_url_is_accepted() -> None:
    (entry,) = parse({"version": "http://jsonfeed.org/version/1", "items": [{"id": "1"}]})
    assert entry.guid == "1"


def test_byte_order_mark_utf16_control_characters_and_lone_surrogates() -> None:
    text = json.dumps(feed({"id": "1", "title": "Caf\u00e9"}), ensure_ascii=False)
    (utf16,) = parse(text.encode("utf-16"))
    assert utf16.title == "Café"
    (bom,) = parse(b"\xef\xbb\xbf" + text.encode())
    assert bom.title == "Café"
    raw = (
        b'{"version": "%s", "items": [{"id": "1", "title": "a\tb\nc", "summary": "x\\ud800y"}]}'
        % V11.encode()
    )
    (entry,) = parse(raw)
    assert entry.title == "a b c"
    assert entry.summary == "xy"


def test_nan_and_infinity_are_read_as_null() -> None:
    (entry,) = parse(
        b'{"version": "%s", "items": [{"id": NaN, "url": "https://f.example/a"}]}' % V11.encode()
    )
    assert entry.guid is None
    assert entry.key == "https://f.example/a"


# -- what is not a JSON Feed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "invalid_json"),
        (b"{", "invalid_json"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [}', "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
        (b'{"n": ' + b"9" * 5000 + b"}", "invalid_json"),
        (b"\xff\xfe\xfd", "invalid_json"),
        (b"[]", "not_a_feed"),
        (b'"https://jsonfeed.org/version/1.1"', "not_a_feed"),
        (b'{"items": []}', "not_a_feed"),
        (b'{"version": "2.0", "items": []}', "not_a_feed"),
        (b'{"version": 1.1, "items": []}', "not_a_feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "invalid_feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {"id": "1"}}', "invalid_feed"),
    ],
)
def test_what_is_not_a_json_feed_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body)
    assert caught.value.reason == reason
    assert caught.value.url == FEED_URL


# -- robustness ----------------------------------------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
_FIELDS = st.sampled_from(
    [
        "id",
        "url",
        "external_url",
        "title",
        "content_html",
        "content_text",
        "summary",
        "date_published",
        "date_modified",
        "author",
        "authors",
        "tags",
        "language",
        "home_page_url",
        "feed_url",
        "name",
    ]
)
_VALUES = (
    _JSON
    | st.sampled_from(
        [
            "https://f.example/a",
            "/relative",
            "http://[::1",
            "javascript:x()",
            "2026-03-10T10:00:00Z",
            "2026-02-30T10:00:00+25:00",
            "9999-12-31T23:59:60-23:59",
            "0001-01-01T00:00:00+23:59",
            "<p>x</p>",
            "\ud800",
        ]
    )
    | st.lists(st.fixed_dictionaries({"name": _JSON}), max_size=3)
)
_OBJECTS = st.dictionaries(_FIELDS, _VALUES, max_size=8)


def _parse_or_parse_error(body: bytes) -> None:
    try:
        entries = parse(body, max_entries=20)
    except ParseError:
        return
    for entry in entries:
        assert isinstance(entry, FeedEntry)
        assert entry.key.startswith(("http://", "https://", "guid:"))


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_arbitrary_json_gives_entries_or_parse_error(value: Any) -> None:
    _parse_or_parse_error(json.dumps(value).encode())


@settings(max_examples=150, deadline=None)
@given(_OBJECTS, st.lists(_OBJECTS | _JSON, max_size=6))
def test_feed_like_json_gives_entries_or_parse_error(fields: dict[str, Any], items: list[Any]) -> None:
    document = {**fields, "version": V11, "items": items}
    _parse_or_parse_error(json.dumps(document).encode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=500))
def test_arbitrary_bytes_give_entries_or_parse_error(body: bytes) -> None:
    _parse_or_parse_error(body)
