"""What a feed's answer says about when to ask again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from ingest.net.client import seconds_until
from ingest.source.poller import freshness_hint


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({}, b"<rss><channel><title>x</title></channel></rss>", None),
        ({"Cache-Control": "public, max-age=600"}, b"", 600),
        ({"Cache-Control": "s-maxage=60, max-age=120"}, b"", 120),
        ({"Cache-Control": "no-cache"}, b"", None),
        ({}, b"<rss><channel><ttl>15</ttl></channel></rss>", 900),
        ({}, b"<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", 1800),
        ({}, b"<sy:updatePeriod>daily</sy:updatePeriod>", 86400),
        ({"Cache-Control": "max-age=60"}, b"<ttl>30</ttl>", 1800),  # the longest wins
    ],
)
def test_freshness_hint(headers: dict[str, str], body: bytes, expected: float | None) -> None:
    assert freshness_hint(headers, body) == expected


def test_a_ttl_deep_in_the_items_is_not_the_channels() -> None:
    body = b"<rss><channel>" + b"<item>x</item>" * 2000 + b"<ttl>999</ttl></channel></rss>"
    assert freshness_hint({}, body) is None


def test_expires_counts_when_there_is_no_max_age() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    hint = freshness_hint({"Expires": later}, b"")
    assert hint is not None
    assert 590 <= hint <= 600


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("120", 120.0), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_seconds_until(value: str | None, expected: float | None) -> None:
    assert seconds_until(value) == expected
