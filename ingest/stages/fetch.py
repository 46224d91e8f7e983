"""Fetch: the article page of a feed entry, retried on transient errors.

A failed fetch is not the end of an entry: the page carries its error and extraction falls back to
the feed's own content. So does a page that is not the article: a body that is not markup (a PDF or
an image served as ``text/html`` is refused from its first bytes, before the rest is read), and a
redirect to a login, consent or subscription wall (published with the feed's text, ``fallback_reason``
``login_wall``: a wall does not go away when asked again, so waiting for it would hold the feed).

Raises only when the entry should wait: robots.txt cannot be fetched yet (``RobotsUnavailable``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from ingest.archive.writer import Archive, Capture
from ingest.config import HttpSettings
from ingest.errors import (
    Disallowed,
    IngestError,
    PermanentError,
    RobotsUnavailable,
    TransientError,
    UnsupportedContent,
)
from ingest.models import Drop, FeedEntry, FetchedPage, Ticket
from ingest.net import HttpClient
from ingest.net.robots import Robots
from ingest.stages.extract import feed_text, refuse_binary
from ingest.urls import article_id, canonicalize

log = logging.getLogger(__name__)

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", ""})
_BACKOFF_S = 0.5

# A redirect target that is a wall, not the article: a path segment, or the host's first label.
_WALL_SEGMENT = re.compile(
    r"(?:log-?in|log-?on|sign-?in|sign-?on|sso|auth|authorize|oauth2?|subscribe|subscriptions?|"
    r"paywall|register|registration|consent|gdpr|cookie-?consent|cookiewall)(?:\.\w{1,5})?",
    re.IGNORECASE,
)
_WALL_HOSTS = frozenset(
    {"login", "signin", "auth", "sso", "accounts", "account", "myaccount", "consent", "subscribe", "paywall"}
)


def wall(requested: str, final: str) -> bool:
    """Whether ``final``, where a request for ``requested`` was redirected, is a login, consent or
    subscription wall rather than the page: a path segment or the host named so, or a target that
    carries the requested URL to return to."""
    try:
        if canonicalize(requested) == canonicalize(final):
            return False
    except ValueError:
        return False
    parts = urlsplit(final)
    host = (parts.hostname or "").split(".")
    if host and host[0] in _WALL_HOSTS:
        return True
    if any(_WALL_SEGMENT.fullmatch(segment) for segment in parts.path.split("/") if segment):
        return True
    back = urlsplit(requested)
    return bool(back.path.strip("/")) and f"{back.netloc}{back.path}" in unquote(parts.query)


class Fetch:
    """The fetch stage. ``robots``, when given, is asked before every hop."""

    name = "fetch"

    def __init__(
        self,
        client: HttpClient,
        settings: HttpSettings,
        robots: Robots | None = None,
        archive: Archive | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._permit = robots.check if robots is not None else None
        self._archive = archive

    async def __call__(self, entry: FeedEntry, ticket: Ticket, /) -> FetchedPage | Drop:
        page = await self.fetch(entry)
        if page.skipped and not feed_text(entry).strip():  # nothing we may publish: a drop
            return Drop(page.skipped)
        return page

    async def fetch(self, entry: FeedEntry) -> FetchedPage:
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
                    trusted=entry.feed_url,
                    probe=refuse_binary,
                )
            except Disallowed as exc:
                log.info("not fetched: %s", exc, extra={"url": entry.link, "reason": exc.reason})
                return replace(_failed(entry, exc), skipped=exc.reason)
            except RobotsUnavailable:
                raise  # the entry waits for robots.txt
            except TransientError as exc:
                error = exc
                continue
            except PermanentError as exc:
                exc.url = exc.url or entry.link
                return _failed(entry, exc)
            if response.content_type not in HTML_TYPES:
                why = f"not an HTML page: {response.content_type}"
                return _failed(entry, UnsupportedContent(why, url=entry.link))
            page = FetchedPage(
                entry=entry,
                url=response.url,
                body=response.body,
                content_type=response.headers.get("Content-Type"),
                fetched_at=datetime.now(UTC),
                status=response.status,
            )
            if wall(entry.link, response.url):
                log.info("%s redirected to %s: a wall, not the article", entry.link, response.url)
                return replace(page, body=None, skipped="login_wall")
            if self._archive is not None:
                self._archive.put(
                    Capture(
                        "page",
                        response.url,
                        entry.link,
                        response.status,
                        page.content_type,
                        response.body,
                        page.fetched_at,
                        article_id(entry.key),
                        entry.feed_url,
                    )
                )
            return page
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
