"""Durable state: seen keys, content hashes, feed validators and status.

Everything here advances only after Kafka acknowledged (see ``ingest.pipeline``).
"""

from ingest.state.base import FEED_HEALTH, FeedState, FingerprintRow, StateStore
from ingest.state.sqlite import SqliteStateStore

__all__ = ["FEED_HEALTH", "FeedState", "FingerprintRow", "SqliteStateStore", "StateStore", "open_state"]


def open_state(url: str) -> StateStore:
    """Open the store named by ``state.url`` (only ``sqlite:///PATH`` for now)."""
    return SqliteStateStore(url.removeprefix("sqlite:///"))
