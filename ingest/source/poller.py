"""Conditional GET of one feed, and what the answer says about when to ask again."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ingest.models import Validators
from ingest.net import HttpClient
from ingest.net.client import seconds_until

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json;q=0.9,"
    " application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*(\d+)", re.IGNORECASE)
_TTL = re.compile(rb"<ttl>\s*(\d{1,6})\s*</ttl>")
_UPDATE_PERIOD = re.compile(rb"<sy:updatePeriod>\s*(hourly|daily|weekly|monthly|yearly)\s*</sy:updatePeriod>")
_UPDATE_FREQUENCY = re.compile(rb"<sy:updateFrequency>\s*(\d{1,4})\s*</sy:updateFrequency>")
_PERIODS = {b"hourly": 3600, b"daily": 86400, b"weekly": 604800, b"monthly": 2592000, b"yearly": 31536000}
_HEAD_BYTES = 8192  # feed-level hints sit in the channel header, before the items


@dataclass(frozen=True, slots=True)
class FeedResponse:
    feed_url: str
    modified: bool
    url: str
    body: bytes
    content_type: str | None
    validators: Validators
    status: int = 200
    hint_s: float | None = None  # how long the feed itself says it stays fresh
    conditional: bool = True

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def freshness_hint(headers: dict[str, str] | object, body: bytes) -> float | None:
    """Seconds the feed says it stays fresh: the longest of Cache-Control max-age, Expires, RSS
    ``<ttl>`` (minutes) and ``sy:updatePeriod``/``sy:updateFrequency``. None when it says nothing."""
    get = getattr(headers, "get", None)
    hints: list[float] = []
    if get is not None:
        if (match := _MAX_AGE.search(get("Cache-Control") or "")) is not None:
            hints.append(float(match.group(1)))
        elif (expires := seconds_until(get("Expires"))) is not None:
            hints.append(expires)
    head = body[:_HEAD_BYTES]
    if (ttl := _TTL.search(head)) is not None:
        hints.append(60.0 * int(ttl.group(1)))
    if (period := _UPDATE_PERIOD.search(head)) is not None:
        frequency = _UPDATE_FREQUENCY.search(head)
        times = max(1, int(frequency.group(1))) if frequency else 1
        hints.append(_PERIODS[period.group(1)] / times)
    return max(hints) if hints else None


async def poll_feed(
    client: HttpClient,
    feed_url: str,
    validators: Validators,
    *,
    max_bytes: int,
    conditional: bool = True,
    trusted: str | None = None,
) -> FeedResponse:
    """GET the feed; 304 means unchanged. ``conditional=False`` ignores the stored validators (a
    server whose validators lie is caught by an occasional full fetch). Errors propagate as
    ``ingest.errors`` types. ``trusted``: the configured URL of the feed, whose port is allowed."""
    headers = {"Accept": ACCEPT}
    if conditional and validators.etag:
        headers["If-None-Match"] = validators.etag
    if conditional and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    response = await client.get(feed_url, max_bytes=max_bytes, headers=headers, trusted=trusted or feed_url)
    hint = freshness_hint(response.headers, response.body)
    if response.status == 304:
        return FeedResponse(feed_url, False, response.url, b"", None, validators, 304, hint, conditional)
    fresh = Validators(etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))
    return FeedResponse(
        feed_url,
        True,
        response.url,
        response.body,
        response.content_type or None,
        fresh,
        response.status,
        hint,
        conditional,
    )
