"""Fetch: the article page of a feed entry, retried on transient errors, never raising.

A failed fetch is not the end of an entry: the page carries its error and extraction falls back to
the feed's own content.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime

from ingest.config import HttpSettings
from ingest.errors import Disallowed, IngestError, TransientError, UnsupportedContent
from ingest.models import FeedEntry, FetchedPage
from ingest.net import HttpClient
from ingest.net.robots import Robots

log = logging.getLogger(__name__)

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", ""})
_BACKOFF_S = 0.5


class Fetcher:
    """``robots``, when given, is asked before every hop; a page it forbids is not fetched and the
    page comes back ``skipped`` (the entry goes on with the feed's own text)."""

    def __init__(self, client: HttpClient, settings: HttpSettings, robots: Robots | None = None) -> None:
        self._client = client
        self._settings = settings
        self._permit = robots.check if robots is not None else None

    async def __call__(self, entry: FeedEntry) -> FetchedPage:
        if entry.link is None:
            return _failed(entry, UnsupportedContent("feed entry has no link"))
        error: IngestError | None = None
        for attempt in range(self._settings.retries + 1):
            if attempt:
                await asyncio.sleep(_BACKOFF_S * 2 ** (attempt - 1))
            try:
                response = await self._client.get(
                    entry.link,
                    max_bytes=self._settings.max_page_bytes,
                    headers={"Accept": ACCEPT},
                    permit=self._permit,
                )
            except Disallowed as exc:
                log.debug("not fetched: %s", exc)
                return replace(_failed(entry, exc), skipped=exc.reason)
            except TransientError as exc:
                error = exc
                continue
            except IngestError as exc:
                return _failed(entry, exc)
            if response.content_type not in HTML_TYPES:
                why = f"not an HTML page: {response.content_type}"
                return _failed(entry, UnsupportedContent(why, url=entry.link))
            return FetchedPage(
                entry=entry,
                url=response.url,
                body=response.body,
                content_type=response.headers.get("Content-Type"),
                fetched_at=datetime.now(UTC),
                status=response.status,
            )
        assert error is not None
        return _failed(entry, error)


def _failed(entry: FeedEntry, error: IngestError) -> FetchedPage:
    return FetchedPage(
        entry=entry,
        url=None,
        body=None,
        content_type=None,
        fetched_at=datetime.now(UTC),
        error=error,
        status=getattr(error, "status", None) or None,
    )
