"""Durable state: seen keys, content hashes, feed validators and status.

Everything here advances only after Kafka acknowledged (see ``ingest.pipeline``).
"""

from ingest.config import StateSettings
from ingest.state.base import FEED_HEALTH, FeedState, FingerprintRow, StateStore
from ingest.state.sqlite import SqliteStateStore

__all__ = ["FEED_HEALTH", "FeedState", "FingerprintRow", "SqliteStateStore", "StateStore", "open_state"]


def open_state(settings: StateSettings) -> StateStore:
    """Open the store named by ``state.url`` (only ``sqlite:///PATH`` for now)."""
    return SqliteStateStore(settings.sqlite_path)
