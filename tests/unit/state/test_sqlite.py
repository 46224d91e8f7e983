from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.config import StateSettings
from ingest.errors import FatalError
from ingest.models import Validators
from ingest.state import FeedState, SqliteStateStore, open_state


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStateStore]:
    state = SqliteStateStore(str(tmp_path / "state.db"))
    try:
        yield state
    finally:
        await state.close()


async def test_nothing_seen_at_first(store: SqliteStateStore) -> None:
    assert await store.seen_keys(["a", "b"]) == set()
    assert await store.seen_keys([]) == set()
    assert await store.content_owner("hash") is None


async def test_record_and_seen_keys(store: SqliteStateStore) -> None:
    await store.record(["https://a.example/1", "guid:https://a.example/feed#1"], "id1", "hash1")
    await store.record(["https://a.example/2"], "id2", None)
    seen = await store.seen_keys(["https://a.example/1", "https://a.example/2", "https://a.example/3"])
    assert seen == {"https://a.example/1", "https://a.example/2"}
    assert await store.seen_keys(["guid:https://a.example/feed#1", "guid:https://a.example/feed#1"]) == {
        "guid:https://a.example/feed#1"
    }


async def test_content_owner(store: SqliteStateStore) -> None:
    await store.record(["k1"], "id1", "hash1")
    await store.record(["k2"], "id2", None)
    assert await store.content_owner("hash1") == "id1"
    assert await store.content_owner("hash2") is None


async def test_first_record_wins(store: SqliteStateStore) -> None:
    await store.record(["k"], "first", "h")
    await store.record(["k"], "second", "h")
    assert await store.content_owner("h") == "first"
    assert await store.seen_keys(["k"]) == {"k"}


async def test_many_keys_are_queried_in_batches(store: SqliteStateStore) -> None:
    keys = [f"https://a.example/{i}" for i in range(1300)]
    await store.record(keys[::2], "id", None)
    seen = await store.seen_keys(keys)
    assert seen == set(keys[::2])


async def test_unknown_feed_has_a_fresh_state(store: SqliteStateStore) -> None:
    assert await store.feed_state("https://a.example/feed") == FeedState(url="https://a.example/feed")


async def test_feed_state_round_trip(store: SqliteStateStore) -> None:
    state = FeedState(
        url="https://a.example/feed",
        validators=Validators(etag='W/"abc"', last_modified="Tue, 10 Mar 2026 18:00:00 GMT"),
        last_polled_at=datetime(2026, 3, 10, 18, 5, tzinfo=UTC),
        last_success_at=datetime(2026, 3, 10, 18, 0, 30, 123456, tzinfo=UTC),
        last_error="timeout: request deadline passed",
        consecutive_errors=2,
        entries_seen=41,
        resolved_url="https://a.example/rss",
        children=("https://a.example/news.xml", "https://a.example/sport.xml"),
    )
    await store.save_feed_state(state)
    assert await store.feed_state("https://a.example/feed") == state


async def test_feed_state_keeps_the_offset(store: SqliteStateStore) -> None:
    cet = timezone(timedelta(hours=1))
    state = FeedState(url="https://a.example/feed", last_polled_at=datetime(2026, 3, 10, 19, 0, tzinfo=cet))
    await store.save_feed_state(state)
    loaded = await store.feed_state("https://a.example/feed")
    assert loaded.last_polled_at == datetime(2026, 3, 10, 18, 0, tzinfo=UTC)


async def test_feed_state_is_overwritten(store: SqliteStateStore) -> None:
    url = "https://a.example/feed"
    await store.save_feed_state(FeedState(url=url, validators=Validators(etag='"1"'), consecutive_errors=3))
    await store.save_feed_state(FeedState(url=url, entries_seen=5))
    loaded = await store.feed_state(url)
    assert loaded == FeedState(url=url, entries_seen=5)
    assert loaded.validators == Validators()
    assert await store.feed_state("https://b.example/feed") == FeedState(url="https://b.example/feed")


async def test_state_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "state.db"
    first = SqliteStateStore(str(path))
    await first.record(["https://a.example/1"], "id1", "hash1")
    await first.save_feed_state(FeedState(url="https://a.example/feed", validators=Validators(etag='"e"')))
    await first.close()
    assert path.is_file()

    second = SqliteStateStore(str(path))
    try:
        assert await second.seen_keys(["https://a.example/1"]) == {"https://a.example/1"}
        assert await second.content_owner("hash1") == "id1"
        assert (await second.feed_state("https://a.example/feed")).validators.etag == '"e"'
    finally:
        await second.close()


async def test_open_state_from_url(tmp_path: Path) -> None:
    store = open_state(StateSettings(url=f"sqlite:///{tmp_path / 'x.db'}"))
    try:
        assert isinstance(store, SqliteStateStore)
        await store.record(["k"], "id", None)
    finally:
        await store.close()
    assert (tmp_path / "x.db").is_file()


def test_unusable_path_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="cannot open state store"):
        SqliteStateStore(str(tmp_path))  # a directory, not a database file


def test_unwritable_parent_is_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(FatalError):
        SqliteStateStore(str(blocker / "state.db"))
