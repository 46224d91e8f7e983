"""Durable state: seen keys, content hashes, near-duplicate fingerprints, feed validators and status.

Everything here advances only after Kafka acknowledged (see ``ingest.pipeline``). SQLite is the
single-instance default; Redis holds the state that several instances share.
"""

from ingest.config import StateSettings
from ingest.state.base import FEED_HEALTH, FeedState, FingerprintRow, StateStore
from ingest.state.redis_store import RedisStateStore
from ingest.state.sqlite import SqliteStateStore

__all__ = [
    "FEED_HEALTH",
    "FeedState",
    "FingerprintRow",
    "RedisStateStore",
    "SqliteStateStore",
    "StateStore",
    "open_state",
]


async def open_state(settings: StateSettings) -> StateStore:
    """Open the store named by ``state.url``. Raises ``FatalError`` when it cannot be used."""
    if settings.backend == "redis":
        return await RedisStateStore.open(settings)
    return SqliteStateStore(settings.sqlite_path, settings.ttl_days)
