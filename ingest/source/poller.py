"""Conditional GET of one feed with its stored validators."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.models import Validators
from ingest.net import HttpClient

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json;q=0.9,"
    " application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True, slots=True)
class FeedResponse:
    feed_url: str
    modified: bool
    url: str
    body: bytes
    content_type: str | None
    validators: Validators


async def poll_feed(
    client: HttpClient, feed_url: str, validators: Validators, *, max_bytes: int
) -> FeedResponse:
    """GET the feed; 304 means unchanged. Errors propagate as ``ingest.errors`` types."""
    headers = {"Accept": ACCEPT}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    response = await client.get(feed_url, max_bytes=max_bytes, headers=headers)
    if response.status == 304:
        return FeedResponse(feed_url, False, response.url, b"", None, validators)
    fresh = Validators(etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))
    return FeedResponse(feed_url, True, response.url, response.body, response.content_type or None, fresh)
