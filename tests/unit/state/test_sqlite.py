"""What only the SQLite store does; the shared promises are in test_contract.py."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.config import StateSettings
from ingest.errors import FatalError
from ingest.state import SqliteStateStore, open_state, sqlite
from tests.unit.state.rows import register


async def test_open_state_from_url_creates_the_file_and_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "x.db"
    store = await open_state(StateSettings(url=f"sqlite:///{path}"))
    try:
        assert isinstance(store, SqliteStateStore)
        await store.record(["k"], "id", None)
    finally:
        await store.close()
    assert path.is_file()


def test_unusable_path_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="cannot open state store"):
        SqliteStateStore(str(tmp_path))  # a directory, not a database file


def test_unwritable_parent_is_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(FatalError):
        SqliteStateStore(str(blocker / "state.db"))


def _age(path: Path, table: str, days: float) -> None:
    """Make every row of ``table`` look recorded ``days`` ago."""
    stamp = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="microseconds")
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE {table} SET recorded_at = ?", (stamp,))


async def test_rows_past_the_ttl_are_deleted_unless_a_feed_still_lists_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "_PRUNE_EVERY", 2)
    path = tmp_path / "state.db"
    store = SqliteStateStore(str(path), ttl_days=10)
    try:
        now = datetime.now(UTC).timestamp()
        await store.record(["gone", "listed"], "old", "old-hash")
        await register(store, ("old", "old", b"\x00\x00\x00\x01", now - 20 * 86400))
        _age(path, "seen", 11)
        _age(path, "content", 11)
        assert await store.seen_keys(["listed"]) == {"listed"}  # a feed lists it again: renewed
        await store.record(["new"], "new", "new-hash")
        await register(store, ("new", "new", b"\x00\x00\x00\x02", now))  # no prune yet
        await store.record(["newer"], "newer", None)  # prunes
        assert await store.seen_keys(["gone", "listed", "new", "newer"]) == {"listed", "new", "newer"}
        assert await store.content_owner("old-hash") is None
        assert await store.content_owner("new-hash") == "new"
        assert [r[0] for r in await store.fingerprints(0.0)] == ["new"]
    finally:
        await store.close()


async def test_a_file_from_before_content_times_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE content (hash TEXT PRIMARY KEY, article_id TEXT NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO content VALUES ('h', 'id')")
    store = SqliteStateStore(str(path))
    try:
        assert await store.content_owner("h") == "id"
        await store.record(["k"], "id2", "h2")
        assert await store.content_owner("h2") == "id2"
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM content WHERE recorded_at IS NULL").fetchone()[0] == 0


async def test_a_file_from_before_sketches_starts_its_near_duplicate_window_again(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE fingerprints (article_id TEXT PRIMARY KEY, story_id TEXT NOT NULL,"
            " fingerprint INTEGER NOT NULL, published REAL NOT NULL) WITHOUT ROWID"
        )
        db.execute("CREATE TABLE fingerprint_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT)")
        db.execute("INSERT INTO fingerprints VALUES ('a', 'a', 42, 1.0)")
        db.execute("INSERT INTO fingerprint_log (article_id) VALUES ('a')")
    store = SqliteStateStore(str(path))
    try:
        assert await store.fingerprints(0.0) == []  # a SimHash cannot be compared with a sketch
        seq = await store.fingerprint_seq()
        assert await store.fingerprints_after(0) == ([], seq)
        assert await store.register_fingerprint(("b", "b", b"\x00\x01\x02\x03", 2.0), seq)
        assert await store.fingerprints(0.0) == [("b", "b", b"\x00\x01\x02\x03", 2.0)]
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'fingerprints'").fetchone()


async def test_a_second_instance_on_the_same_file_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    first = SqliteStateStore(path)
    with pytest.raises(FatalError, match=r"in use by another running instance \(process \d+\)"):
        SqliteStateStore(path)
    await first.close()
    second = SqliteStateStore(path)  # the lock went with the first one
    await second.close()


async def test_queries_run_off_the_event_loop(tmp_path: Path) -> None:
    import threading

    store = SqliteStateStore(str(tmp_path / "state.db"))
    threads: list[str] = []
    store._db.create_function("where_am_i", 0, lambda: threads.append(threading.current_thread().name) or 1)
    try:
        await store._run(lambda: store._db.execute("SELECT where_am_i()").fetchone())
    finally:
        await store.close()
    assert threads
    assert threads[0] != threading.current_thread().name
    assert threads[0].startswith("sqlite")


async def test_sqlite_errors_are_translated(tmp_path: Path) -> None:
    from ingest.errors import StateUnavailable

    store = SqliteStateStore(str(tmp_path / "state.db"))
    try:
        await store._run(store._db.execute, "PRAGMA query_only = ON")
        with pytest.raises(StateUnavailable, match="readonly"):  # a write refused: retried later
            await store.record(["k"], "id", None)
        await store._run(store._db.close)
        with pytest.raises(FatalError, match="unusable"):  # a closed database: nothing to retry
            await store.seen_keys(["k"])
    finally:
        store._release()


async def test_feed_states_are_written_together_soon_after_and_at_close(tmp_path: Path) -> None:
    from ingest.state import FeedState

    path = tmp_path / "state.db"

    def on_disk() -> set[str]:
        with sqlite3.connect(path) as db:
            return {row[0] for row in db.execute("SELECT url FROM feed_state")}

    store = SqliteStateStore(str(path))
    await store.save_feed_state(FeedState(url="https://a.example/feed", entries_seen=3))
    assert (await store.feed_state("https://a.example/feed")).entries_seen == 3  # seen at once
    assert on_disk() == set()  # written with the others, within a second
    await store.flush()
    assert on_disk() == {"https://a.example/feed"}
    await store.save_feed_state(FeedState(url="https://b.example/feed"))
    await store.close()  # and what is left, at close
    assert on_disk() == {"https://a.example/feed", "https://b.example/feed"}
