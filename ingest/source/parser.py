"""Feed documents (RSS 0.9x/1.0/2.0, Atom) to typed entries, through feedparser, from bytes only.

Runs in a worker process (see ``ingest.pipeline``): a pure function of its arguments.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from ingest.errors import ParseError
from ingest.models import FeedEntry
from ingest.text import clean_line, html_to_text
from ingest.urls import canonicalize

FUTURE_TOLERANCE = timedelta(days=1)


def _datetime(value: Any, now: datetime) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        moment = datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    if moment > now + FUTURE_TOLERANCE or moment.year < 1990:
        return None
    return moment


def _http_link(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    link = value.strip()
    try:
        canonicalize(link)
    except ValueError:
        return None
    return link


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [a.get("name", "") for a in entry.get("authors", []) if isinstance(a, Mapping)]
    if not any(names) and isinstance(entry.get("author"), str):
        names = [entry["author"]]
    return tuple(dict.fromkeys(n for n in (clean_line(x) for x in names if x) if n))


def _tags(entry: Mapping[str, Any]) -> tuple[str, ...]:
    terms = (t.get("term") or t.get("label") or "" for t in entry.get("tags", []) or [])
    return tuple(dict.fromkeys(clean_line(t) for t in terms if t and clean_line(t)))


def _content(entry: Mapping[str, Any]) -> str | None:
    contents = entry.get("content") or []
    best = max((c.get("value", "") for c in contents if isinstance(c, Mapping)), key=len, default="")
    return best or None


def _entry(
    raw: Mapping[str, Any],
    feed_url: str,
    feed: Mapping[str, Any],
    feed_tags: tuple[str, ...],
    now: datetime,
) -> FeedEntry | None:
    link = _http_link(raw.get("link"))
    guid = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
    if link is None and guid is not None:
        link = _http_link(guid) if raw.get("guidislink") else None
    canonical = canonicalize(link) if link else None
    if canonical:
        key = canonical
    elif guid:
        key = f"guid:{canonicalize(feed_url)}#{guid.strip()}"
    else:
        return None
    summary = html_to_text(raw.get("summary") or "") or None
    # Only a stated update time: feedparser's ``updated_parsed`` falls back to the publication time.
    updated = raw.get("updated_parsed") if "updated_parsed" in raw else None
    return FeedEntry(
        key=key,
        feed_url=feed_url,
        link=link,
        canonical_url=canonical,
        guid=guid.strip() if guid else None,
        title=clean_line(html_to_text(raw.get("title") or "")) or None,
        summary=summary,
        content_html=_content(raw),
        authors=_authors(raw),
        published_at=_datetime(raw.get("published_parsed") or updated, now),
        updated_at=_datetime(updated, now),
        tags=_tags(raw),
        language=feed.get("language") if isinstance(feed.get("language"), str) else None,
        feed_title=clean_line(feed.get("title") or "") or None,
        discovered_at=now,
        feed_tags=feed_tags,
    )


def parse_feed(
    body: bytes,
    *,
    feed_url: str,
    base_url: str,
    content_type: str | None,
    max_entries: int,
    feed_tags: tuple[str, ...] = (),
) -> tuple[FeedEntry, ...]:
    """Parse a feed document into entries. Raises ``ParseError`` for what is not a feed.

    The document is handed over as a stream so feedparser can never treat it as a path or URL.
    Entries without an http(s) link or a GUID are skipped.
    """
    headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
    try:
        parsed = feedparser.parse(
            io.BytesIO(body), response_headers=headers, sanitize_html=True, resolve_relative_uris=True
        )
    except Exception as exc:  # feedparser's own bugs on malformed documents (e.g. KeyError)
        raise ParseError(f"feed parser failed: {type(exc).__name__}: {exc}", url=feed_url) from exc
    if not parsed.get("version") and not parsed.entries:
        why = parsed.get("bozo_exception")
        raise ParseError(f"not a feed: {why or 'no feed elements found'}", url=feed_url)
    feed = parsed.get("feed", {})
    now = datetime.now(UTC)
    entries = (_entry(raw, feed_url, feed, feed_tags, now) for raw in parsed.entries[:max_entries])
    return tuple(e for e in entries if e is not None)
