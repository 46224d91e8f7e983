"""SQLite state store: the default for one worker. WAL mode; each call is its own transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import FatalError
from ingest.models import Validators
from ingest.state.base import FeedState, FingerprintRow

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
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    last_polled_at TEXT,
    last_success_at TEXT,
    last_error TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    entries_seen INTEGER NOT NULL DEFAULT 0
);
"""
_BATCH = 500


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


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
        row = self._db.execute(
            "SELECT etag, last_modified, last_polled_at, last_success_at, last_error,"
            " consecutive_errors, entries_seen FROM feeds WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None:
            return FeedState(url=url)
        return FeedState(
            url=url,
            validators=Validators(etag=row[0], last_modified=row[1]),
            last_polled_at=_dt(row[2]),
            last_success_at=_dt(row[3]),
            last_error=row[4],
            consecutive_errors=row[5],
            entries_seen=row[6],
        )

    async def save_feed_state(self, state: FeedState) -> None:
        self._db.execute(
            "INSERT INTO feeds (url, etag, last_modified, last_polled_at, last_success_at,"
            " last_error, consecutive_errors, entries_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET etag=excluded.etag,"
            " last_modified=excluded.last_modified, last_polled_at=excluded.last_polled_at,"
            " last_success_at=excluded.last_success_at, last_error=excluded.last_error,"
            " consecutive_errors=excluded.consecutive_errors, entries_seen=excluded.entries_seen",
            (
                state.url,
                state.validators.etag,
                state.validators.last_modified,
                _ts(state.last_polled_at),
                _ts(state.last_success_at),
                state.last_error,
                state.consecutive_errors,
                state.entries_seen,
            ),
        )

    async def close(self) -> None:
        self._db.close()
