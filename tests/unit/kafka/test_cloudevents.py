"""CloudEvents binary-mode headers: required attributes, UTF-8 values, URI-references for sources."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from ingest.kafka.cloudevents import Event, event_id, headers, source_uri

# RFC 3986: what a URI-reference may hold, an escape's "%" included.
URI_CHARS = set(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")


def test_the_required_attributes_come_first_then_the_optional_ones() -> None:
    event = Event(
        id="abc",
        source="https://example.com/feed.xml",
        type="article",
        time=datetime(2026, 12, 2, 7, 30, 0, 123456, tzinfo=UTC),
        subject="https://example.com/a",
        dataschema="https://ingest.example/schemas/article.v1.json",
    )
    assert headers(event) == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"abc"),
        ("ce_source", b"https://example.com/feed.xml"),
        ("ce_type", b"example.ingest.article"),
        ("ce_time", b"2026-12-02T07:30:00.123Z"),
        ("content-type", b"application/json"),
        ("ce_subject", b"https://example.com/a"),
        ("ce_dataschema", b"https://ingest.example/schemas/article.v1.json"),
    ]


def test_optional_attributes_are_left_out_when_unknown() -> None:
    event = Event(id="x", source="https://example.com/", type="link", time=datetime.now(UTC))
    names = [name for name, _ in headers(event)]
    assert "ce_subject" not in names
    assert "ce_dataschema" not in names


def test_the_time_is_utc_whatever_zone_it_was_stated_in() -> None:
    paris = timezone(timedelta(hours=1))
    event = Event(id="x", source="s", type="article", time=datetime(2026, 12, 2, 8, 30, tzinfo=paris))
    assert dict(headers(event))["ce_time"] == b"2026-12-02T07:30:00.000Z"


def test_a_feed_url_with_spaces_and_letters_outside_ascii_is_percent_encoded() -> None:
    assert source_uri("https://example.com/flux rss/actualités.xml") == (
        "https://example.com/flux%20rss/actualit%C3%A9s.xml"
    )
    assert source_uri("https://example.com/feed?a=1&b=%20") == "https://example.com/feed?a=1&b=%20"


def test_an_archive_path_is_a_file_uri() -> None:
    assert source_uri("/data/cc news/CC-NEWS-20261201.warc.gz") == (
        "file:///data/cc%20news/CC-NEWS-20261201.warc.gz"
    )


@given(st.text(min_size=1))
def test_any_location_gives_a_uri_reference_and_encoding_it_again_changes_nothing(location: str) -> None:
    uri = source_uri(location)
    assert uri
    assert set(uri) <= URI_CHARS
    assert source_uri(uri) == uri
    if "%" not in location and not location.startswith("/"):  # nothing lost: it decodes back
        assert unquote(uri) == location


@given(st.text(), st.text())
def test_header_values_are_utf8_whatever_the_subject(subject: str, source: str) -> None:
    now = datetime.now(UTC)
    event = Event(id=event_id(subject), source=source, type="article", time=now, subject=subject)
    for _, value in headers(event):
        value.decode("utf-8")


def test_an_event_id_is_stable_and_tells_its_parts_apart() -> None:
    assert event_id("a", "b") == event_id("a", "b")
    assert len(event_id("a", "b")) == 32
    assert event_id("a", "b") != event_id("ab", "")
    assert event_id("a", None) == event_id("a", "")
    assert urlsplit(source_uri("https://example.com/")).scheme == "https"
