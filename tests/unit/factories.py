"""Builders of pipeline items for the unit tests, with plausible defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.models import Article, Extracted, FeedEntry, FetchedPage, PageMetadata, Ticket
from ingest.stages.normalise import build_article
from ingest.urls import canonicalize

DATA = Path(__file__).resolve().parent.parent / "data"
FEED_URL = "https://news.example.org/world/rss.xml"
LINK = "https://news.example.org/world/story"
FIXED_TIME = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def make_entry(**overrides: Any) -> FeedEntry:
    link = overrides.get("link", LINK)
    canonical = canonicalize(link) if link else None
    fields: dict[str, Any] = {
        "key": canonical or f"guid:{FEED_URL}#id-1",
        "feed_url": FEED_URL,
        "link": link,
        "canonical_url": canonical,
        "guid": None,
        "title": "Feed headline",
        "summary": "Feed summary.",
        "content_html": None,
        "authors": (),
        "published_at": None,
        "updated_at": None,
        "tags": (),
        "language": None,
        "feed_title": "Example News Online",
        "discovered_at": FIXED_TIME,
    }
    fields.update(overrides)
    return FeedEntry(**fields)


def make_page(entry: FeedEntry | None = None, **overrides: Any) -> FetchedPage:
    entry = entry if entry is not None else make_entry()
    fields: dict[str, Any] = {
        "entry": entry,
        "url": entry.link,
        "body": b"<html><body><p>Page</p></body></html>",
        "content_type": "text/html; charset=utf-8",
        "fetched_at": FIXED_TIME,
        "status": 200,
    }
    fields.update(overrides)
    return FetchedPage(**fields)


def make_extracted(
    text: str,
    metadata: PageMetadata | None = None,
    *,
    entry: FeedEntry | None = None,
    **overrides: Any,
) -> Extracted:
    extracted = Extracted(
        page=make_page(entry),
        text=text,
        metadata=metadata or PageMetadata(),
        method="trafilatura",
        extractor_version="test",
    )
    return replace(extracted, **overrides)


def words(count: int, seed: str = "word") -> str:
    """A body of ``count`` distinct words."""
    return " ".join(f"{seed}{i}" for i in range(count))


def make_article(body: str, **entry_overrides: Any) -> Article:
    return build_article(make_extracted(body, entry=make_entry(**entry_overrides)))


class Counted:
    """An origin that counts the items committed (a poll's batch, a link's offset in the service)."""

    def __init__(self) -> None:
        self.count = 0

    def committed(self) -> None:
        self.count += 1


def make_ticket() -> Ticket:
    return Ticket(Counted())


def release(ticket: Ticket, committed: bool) -> None:
    """What the runner does when an item ends: let go of what it held in flight."""
    for hold in ticket.holds:
        hold(committed)
