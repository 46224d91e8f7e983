from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.source.entries import (
    http_link,
    identity,
    parse_datetime,
    parse_error,
    plausible,
    text,
    unique_lines,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-10T11:30:00Z", datetime(2026, 3, 10, 11, 30, tzinfo=UTC)),
        ("2026-03-10t11:30:00z", datetime(2026, 3, 10, 11, 30, tzinfo=UTC)),
        ("2026-03-10 11:30:00+01:00", datetime(2026, 3, 10, 10, 30, tzinfo=UTC)),
        ("2026-03-10T11:30+0130", datetime(2026, 3, 10, 10, 0, tzinfo=UTC)),
        ("2026-03-10T11:30:00.5-02:00", datetime(2026, 3, 10, 13, 30, 0, 500000, tzinfo=UTC)),
        ("2026-03-10T11:30:00.1234567891Z", datetime(2026, 3, 10, 11, 30, 0, 123456, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),  # leap second
        (" 2026-03-10T11:30:00Z\n", datetime(2026, 3, 10, 11, 30, tzinfo=UTC)),
        ("2026-03-10T11:30:00", None),  # no zone
        ("2026-03-10", None),  # a date only
        ("2026-03", None),
        ("2026-02-30T11:30:00Z", None),
        ("2026-03-10T24:30:00Z", None),
        ("2026-03-10T11:30:00+24:00", None),
        ("Tue, 10 Mar 2026 11:30:00 GMT", None),
        ("2026-03-12T12:00:01Z", None),  # over a day ahead
        ("2026-03-11T11:00:00Z", datetime(2026, 3, 11, 11, 0, tzinfo=UTC)),  # within a day
        ("1989-12-31T23:59:59Z", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("9999-12-31T23:59:59-01:00", None),
        ("", None),
        (20260310, None),
        (None, None),
    ],
)
def test_parse_datetime(value: object, expected: datetime | None) -> None:
    assert parse_datetime(value, NOW) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=40)
    | st.from_regex(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:?\d\d)?")
)
def test_parse_datetime_never_raises(value: str) -> None:
    moment = parse_datetime(value, NOW)
    assert moment is None or moment.tzinfo is UTC


def test_plausible() -> None:
    assert plausible(datetime(2026, 3, 10, 13, 0, tzinfo=timezone(timedelta(hours=1))), NOW) == datetime(
        2026, 3, 10, 12, 0, tzinfo=UTC
    )
    assert plausible(datetime(2026, 3, 10, 12, 0), NOW) is None  # naive
    assert plausible(None, NOW) is None


def test_links_and_identity() -> None:
    assert http_link(" https://f.example/a ") == "https://f.example/a"
    assert http_link("a/b", "https://f.example/x/feed") == "https://f.example/x/a/b"
    assert http_link("http://[::1", "https://f.example/") is None
    assert http_link("mailto:x@f.example") is None
    assert http_link(3) is None
    assert identity("https://F.example/a?utm_source=x", "g", "https://f.example/feed") == (
        "https://f.example/a",
        "https://f.example/a",
    )
    assert identity(None, " g ", "https://F.example/feed?utm_medium=y") == (
        "guid:https://f.example/feed#g",
        None,
    )
    assert identity(None, None, "https://f.example/feed") is None


def test_text_lines_and_errors() -> None:
    assert text("a\ud800b") == "ab"
    assert text(1) is None
    assert unique_lines([" A  b ", "A b", "", None, 3, "c\u200b"]) == ("A b", "c")
    error = parse_error("not_a_feed", "not a feed", url="https://f.example/feed")
    assert error.reason == "not_a_feed"
    assert error.url == "https://f.example/feed"
