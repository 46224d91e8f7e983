"""SQLite state store: the default for one instance. WAL mode; each call is its own transaction.

Every query runs on one thread of the store's own, never on the event loop, one at a time (so a
call that reads then writes, ``register_fingerprint``, is atomic). SQLite's errors are translated
here: a busy, locked, full or failing disk is ``StateUnavailable`` (the item is retried later); a
corrupt or unusable file is ``FatalError``.

One instance per file: the store holds an exclusive lock on ``PATH.lock`` while it is open, and a
second instance started on the same file stops at once, naming the first one's process id. Being the
only writer, it keeps the feed states it read or saved in memory (the status page holds them anyway)
and writes those saved together, once a second: a trip to the database thread costs more CPU than
the query (about 0.25 ms against 5 us on the project's machine), and a 304 poll needs none.

Kept for ``state.ttl_days``, as in Redis: a seen key after a feed last listed its entry (each
sighting renews it), a content hash and a near-duplicate sketch after they were recorded. Older rows are
deleted as new ones are recorded, so the file stops growing once the service runs at a steady rate.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

from ingest.errors import FatalError, StateUnavailable
from ingest.state.base import FeedState, FingerprintRow
from ingest.state.codec import decode_feed_state, encode_feed_state

T = TypeVar("T")
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    key TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS content (
    hash TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    recorded_at TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS copies (
    article_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    sketch BLOB NOT NULL,
    published REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS copies_published ON copies (published);
CREATE TABLE IF NOT EXISTS fingerprint_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_recorded ON seen (recorded_at);
CREATE TABLE IF NOT EXISTS feed_state (
    url TEXT PRIMARY KEY,
    data TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archive_progress (
    name TEXT PRIMARY KEY,
    offset INTEGER NOT NULL,
    finished INTEGER NOT NULL,
    saved_at TEXT NOT NULL
) WITHOUT ROWID;
"""
_BATCH = 500
_INSERT_FINGERPRINT = (
    "INSERT OR REPLACE INTO copies (article_id, story_id, sketch, published) VALUES (?, ?, ?, ?)"
)
# Expired rows are deleted once every this many records.
_PRUNE_EVERY = 1000
FLUSH_S = 1.0  # feed states saved are written together at most this long after


def _lock(path: str) -> IO[str]:
    """An exclusive lock on ``PATH.lock`` for as long as the returned file stays open."""
    lock_path = f"{path}.lock"
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held open while the store is
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise FatalError(
            f"state file {path} is in use by another running instance (process {holder}); stop it, "
            "or give this one a state.url of its own"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


class SqliteStateStore:
    def __init__(self, path: str, ttl_days: float = 30.0) -> None:
        self._ttl = timedelta(days=ttl_days)
        self._records = 0
        self._lock: IO[str] | None = None
        # Feed states as last read or saved: this instance is the file's only writer (the lock), so
        # a poll reads its feed's state without a trip to the database thread.
        self._feeds: dict[str, FeedState] = {}
        self._dirty: dict[str, FeedState] = {}  # saved, not written yet
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._lock = _lock(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            self._release()
            raise FatalError(f"cannot open state store {path!r}: {exc}") from exc
        except FatalError:
            self._release()
            raise

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file lets go of the lock
            self._lock = None
        self._thread.shutdown(wait=False)

    def _migrate(self) -> None:
        """Files written before content hashes had a time: give them one (now). Files written when
        near-duplicates were SimHash fingerprints: those cannot be compared with sketches, so the
        near-duplicate window starts again."""
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'fingerprints'").fetchone():
            self._db.execute("DROP TABLE fingerprints")
            self._db.execute("DELETE FROM fingerprint_log")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(content)")}
        if "recorded_at" not in columns:
            self._db.execute("ALTER TABLE content ADD COLUMN recorded_at TEXT")
        self._db.execute("UPDATE content SET recorded_at = ? WHERE recorded_at IS NULL", (_now(),))
        self._db.execute("CREATE INDEX IF NOT EXISTS content_recorded ON content (recorded_at)")

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` on the store's thread, its errors translated."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)
        except sqlite3.OperationalError as exc:  # busy, locked, disk full, I/O error
            raise StateUnavailable(f"SQLite state store: {exc}") from exc
        except sqlite3.Error as exc:  # corrupt, closed, a schema it cannot use
            raise FatalError(f"SQLite state store unusable: {exc}") from exc

    async def ping(self) -> None:
        await self._run(lambda: self._db.execute("SELECT 1").fetchone())

    async def seen_keys(self, keys: Iterable[str]) -> set[str]:
        return await self._run(self._seen_keys, list(dict.fromkeys(keys)))

    def _seen_keys(self, wanted: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(wanted), _BATCH):
            chunk = wanted[i : i + _BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key FROM seen WHERE key IN ({marks})", chunk).fetchall()
            found.update(row[0] for row in rows)
            if rows:  # still listed by a feed: keep them for another full TTL
                present = [row[0] for row in rows]
                self._db.execute(
                    f"UPDATE seen SET recorded_at = ? WHERE key IN ({','.join('?' * len(present))})",
                    [_now(), *present],
                )
        return found

    async def content_owner(self, content_hash: str) -> str | None:
        return await self._run(self._content_owner, content_hash)

    def _content_owner(self, content_hash: str) -> str | None:
        row = self._db.execute("SELECT article_id FROM content WHERE hash = ?", (content_hash,)).fetchone()
        return row[0] if row else None

    async def record(
        self,
        keys: Iterable[str],
        article_id: str,
        content_hash: str | None,
    ) -> None:
        await self._run(self._record, list(keys), article_id, content_hash)

    def _record(self, keys: list[str], article_id: str, content_hash: str | None) -> None:
        now = _now()
        self._records += 1
        if self._records % _PRUNE_EVERY == 1:
            self._prune(datetime.now(UTC) - self._ttl)
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO seen (key, article_id, recorded_at) VALUES (?, ?, ?)",
                [(k, article_id, now) for k in keys],
            )
            if content_hash:
                self._db.execute(
                    "INSERT OR IGNORE INTO content (hash, article_id, recorded_at) VALUES (?, ?, ?)",
                    (content_hash, article_id, now),
                )

    def _prune(self, cutoff: datetime) -> None:
        stamp = cutoff.isoformat(timespec="microseconds")
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM seen WHERE recorded_at < ?", (stamp,))
            self._db.execute("DELETE FROM content WHERE recorded_at < ?", (stamp,))
            self._db.execute("DELETE FROM copies WHERE published < ?", (cutoff.timestamp(),))
            self._db.execute(
                "DELETE FROM fingerprint_log WHERE article_id NOT IN (SELECT article_id FROM copies)"
            )

    async def fingerprints(self, since: float) -> list[FingerprintRow]:
        return await self._run(self._fingerprints, since)

    def _fingerprints(self, since: float) -> list[FingerprintRow]:
        rows = self._db.execute(
            "SELECT article_id, story_id, sketch, published FROM copies"
            " WHERE published >= ? ORDER BY published",
            (since,),
        )
        return [(str(a), str(s), bytes(k), float(p)) for a, s, k, p in rows]

    async def fingerprint_seq(self) -> int:
        return await self._run(self._fingerprint_seq)

    def _fingerprint_seq(self) -> int:
        # AUTOINCREMENT's counter: it never goes back, even when the newest rows are deleted.
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'fingerprint_log'").fetchone()
        return int(row[0]) if row else 0

    async def fingerprints_after(self, seq: int) -> tuple[list[FingerprintRow], int]:
        return await self._run(self._fingerprints_after, seq)

    def _fingerprints_after(self, seq: int) -> tuple[list[FingerprintRow], int]:
        latest = self._fingerprint_seq()
        rows = self._db.execute(
            "SELECT c.article_id, c.story_id, c.sketch, c.published FROM fingerprint_log l"
            " JOIN copies c ON c.article_id = l.article_id WHERE l.seq > ? AND l.seq <= ?"
            " ORDER BY l.seq",
            (seq, latest),
        )
        return [(str(a), str(s), bytes(k), float(p)) for a, s, k, p in rows], max(latest, seq)

    async def register_fingerprint(self, row: FingerprintRow, seq: int) -> bool:
        return await self._run(self._register_fingerprint, row, seq)

    def _register_fingerprint(self, row: FingerprintRow, seq: int) -> bool:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._fingerprint_seq() != seq:
                return False
            self._db.execute(_INSERT_FINGERPRINT, row)
            self._db.execute("INSERT INTO fingerprint_log (article_id) VALUES (?)", (row[0],))
        return True

    async def feed_state(self, url: str) -> FeedState:
        cached = self._feeds.get(url)
        if cached is not None:
            return cached
        row = await self._run(
            lambda: self._db.execute("SELECT data FROM feed_state WHERE url = ?", (url,)).fetchone()
        )
        state = decode_feed_state(url, row[0]) if row else FeedState(url=url)
        self._feeds[url] = state
        return state

    async def save_feed_state(self, state: FeedState) -> None:
        """Kept at once (the next read sees it), written within ``FLUSH_S`` with the others saved
        meanwhile, in one transaction. A feed's state is a cursor, not a record of what was
        published: lost in a crash, the next poll only fetches and parses in full again, and the
        entries it finds are known by their keys."""
        self._feeds[state.url] = state
        self._dirty[state.url] = state
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(FLUSH_S, self._start_flush)

    def _start_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Write the feed states saved since the last flush. A store that does not answer keeps them
        for the next one."""
        self._flush = None
        batch, self._dirty = self._dirty, {}
        if not batch:
            return
        rows = [(url, encode_feed_state(state)) for url, state in batch.items()]
        try:
            await self._run(self._write_states, rows)
        except StateUnavailable as exc:
            log.warning("feed states not written yet (%s); trying again", exc)
            self._dirty = batch | self._dirty
            self._schedule_flush()

    def _write_states(self, rows: list[tuple[str, str]]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO feed_state (url, data) VALUES (?, ?)"
                " ON CONFLICT(url) DO UPDATE SET data = excluded.data",
                rows,
            )

    async def archive_progress(self, name: str) -> tuple[int, bool] | None:
        row = await self._run(
            lambda: self._db.execute(
                "SELECT offset, finished FROM archive_progress WHERE name = ?", (name,)
            ).fetchone()
        )
        return (int(row[0]), bool(row[1])) if row else None

    async def save_archive_progress(self, name: str, offset: int, finished: bool) -> None:
        await self._run(self._save_archive_progress, name, offset, finished)

    def _save_archive_progress(self, name: str, offset: int, finished: bool) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO archive_progress (name, offset, finished, saved_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET offset = excluded.offset,"
                " finished = excluded.finished, saved_at = excluded.saved_at",
                (name, offset, int(finished), _now()),
            )

    async def clear(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        await asyncio.gather(*self._flushing, return_exceptions=True)
        self._feeds.clear()
        self._dirty.clear()
        await self._run(self._clear)

    def _clear(self) -> None:
        with self._db:
            self._db.execute("BEGIN")
            for table in ("seen", "content", "copies", "fingerprint_log", "feed_state", "archive_progress"):
                self._db.execute(f"DELETE FROM {table}")  # the names are ours

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
        await asyncio.gather(*self._flushing, return_exceptions=True)
        try:
            await self.flush()
        finally:
            if self._flush is not None:  # a flush that failed asked for another: there is none
                self._flush.cancel()
            await asyncio.get_running_loop().run_in_executor(self._thread, self._db.close)
            self._release()


def _now() -> str:
    """UTC now as stored: fixed-width ISO 8601 (microseconds always), so text order is time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")
