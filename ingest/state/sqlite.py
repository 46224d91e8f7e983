"""SQLite state store: the default for one worker. WAL mode; each call is its own transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import FatalError
from ingest.state.base import FeedState, FingerprintRow
from ingest.state.codec import decode_feed_state, encode_feed_state

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    key TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS content (
    hash TEXT PRIMARY KEY,
    article_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fingerprints (
    article_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    fingerprint INTEGER NOT NULL,
    published REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fingerprints_published ON fingerprints (published);
CREATE TABLE IF NOT EXISTS feed_state (
    url TEXT PRIMARY KEY,
    data TEXT NOT NULL
) WITHOUT ROWID;
"""
_BATCH = 500


class SqliteStateStore:
    def __init__(self, path: str) -> None:
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise FatalError(f"cannot open state store {path!r}: {exc}") from exc

    async def seen_keys(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        for i in range(0, len(wanted), _BATCH):
            chunk = wanted[i : i + _BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key FROM seen WHERE key IN ({marks})", chunk)
            found.update(row[0] for row in rows)
        return found

    async def content_owner(self, content_hash: str) -> str | None:
        row = self._db.execute("SELECT article_id FROM content WHERE hash = ?", (content_hash,)).fetchone()
        return row[0] if row else None

    async def record(
        self,
        keys: Iterable[str],
        article_id: str,
        content_hash: str | None,
        fingerprint: FingerprintRow | None = None,
    ) -> None:
        now = datetime.now(UTC).isoformat()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO seen (key, article_id, recorded_at) VALUES (?, ?, ?)",
                [(k, article_id, now) for k in keys],
            )
            if content_hash:
                self._db.execute(
                    "INSERT OR IGNORE INTO content (hash, article_id) VALUES (?, ?)",
                    (content_hash, article_id),
                )
            if fingerprint is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO fingerprints (article_id, story_id, fingerprint, published)"
                    " VALUES (?, ?, ?, ?)",
                    fingerprint,
                )

    async def fingerprints(self, since: float) -> list[FingerprintRow]:
        rows = self._db.execute(
            "SELECT article_id, story_id, fingerprint, published FROM fingerprints"
            " WHERE published >= ? ORDER BY published",
            (since,),
        )
        return [(str(a), str(s), int(f), float(p)) for a, s, f, p in rows]

    async def feed_state(self, url: str) -> FeedState:
        row = self._db.execute("SELECT data FROM feed_state WHERE url = ?", (url,)).fetchone()
        return decode_feed_state(url, row[0]) if row else FeedState(url=url)

    async def save_feed_state(self, state: FeedState) -> None:
        self._db.execute(
            "INSERT INTO feed_state (url, data) VALUES (?, ?)"
            " ON CONFLICT(url) DO UPDATE SET data = excluded.data",
            (state.url, encode_feed_state(state)),
        )

    async def close(self) -> None:
        self._db.close()
