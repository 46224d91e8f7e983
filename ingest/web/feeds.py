"""The /feeds view: every configured feed with its health and its next check."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ingest.config import FeedConfig
from ingest.source.scheduler import Scheduler
from ingest.state import FeedState
from ingest.times import rfc3339


def feed_status(
    states: dict[str, FeedState], feeds: tuple[FeedConfig, ...], scheduler: Scheduler | None
) -> list[dict[str, Any]]:
    """Every configured feed with its health and its next check (wall time; only for the feeds
    ``scheduler`` polls, a poller's share)."""
    offset = time.time() - time.monotonic()
    now = datetime.now(UTC)
    listed = []
    for index, feed in enumerate(feeds):
        state = states.get(feed.url) or FeedState(url=feed.url)
        next_check = (
            rfc3339(scheduler.due_at[index] + offset) if scheduler and scheduler.owns(index) else None
        )
        status: dict[str, Any] = {
            **_health(state),
            "url": feed.url,
            "name": feed.name,
            "last_success_at": state.last_success_at,
            "last_status": state.last_status,
            "last_error": state.last_error,
            "next_check_at": next_check,
            "new_entries_last_poll": state.new_entries,
            "entries_per_day": _rounded(state.entries_per_day(now)),
            "validators": {
                "etag": state.validators.etag is not None,
                "last_modified": state.validators.last_modified is not None,
            },
        }
        if state.children:  # a sitemap index: the child sitemaps polled with it
            status["sitemaps"] = [_health(states.get(url) or FeedState(url=url)) for url in state.children]
        listed.append(status)
    return listed


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _health(state: FeedState) -> dict[str, Any]:
    """What /feeds says of any feed, a configured one or a child sitemap of an index."""
    return {
        "url": state.url,
        "state": state.health if state.last_polled_at else "new",
        "last_polled_at": state.last_polled_at,
        "last_error_reason": state.last_error_reason,
        "consecutive_errors": state.consecutive_errors,
        "entries_seen": state.entries_seen,
    }
