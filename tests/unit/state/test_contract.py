"""What every state store promises (``ingest.state.StateStore``), run against each backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from ingest.models import Validators
from ingest.state import FeedState, StateStore
from tests.unit.state.conftest import Backend
from tests.unit.state.rows import register

# Near-duplicate sketches as the dedup stage writes them (a site tag, then sampled values).
SKETCH_A = b"\x01\x02\x03\x04" + bytes(range(8))
SKETCH_B = b"\xff\xfe\xfd\xfc"
SKETCH_C = bytes(range(256)) * 4


async def test_nothing_seen_at_first(store: StateStore) -> None:
    assert await store.seen_keys(["a", "b"]) == set()
    assert await store.seen_keys([]) == set()
    assert await store.content_owner("hash") is None
    assert await store.fingerprints(0.0) == []


async def test_record_and_seen_keys(store: StateStore) -> None:
    await store.record(["https://a.example/1", "guid:https://a.example/feed#1"], "id1", "hash1")
    await store.record(["https://a.example/2"], "id2", None)
    seen = await store.seen_keys(["https://a.example/1", "https://a.example/2", "https://a.example/3"])
    assert seen == {"https://a.example/1", "https://a.example/2"}
    assert await store.seen_keys(["guid:https://a.example/feed#1", "guid:https://a.example/feed#1"]) == {
        "guid:https://a.example/feed#1"
    }


async def test_content_owner(store: StateStore) -> None:
    await store.record(["k1"], "id1", "hash1")
    await store.record(["k2"], "id2", None)
    assert await store.content_owner("hash1") == "id1"
    assert await store.content_owner("hash2") is None


async def test_first_record_wins(store: StateStore) -> None:
    await store.record(["k"], "first", "h")
    await store.record(["k"], "second", "h")
    assert await store.content_owner("h") == "first"
    assert await store.seen_keys(["k"]) == {"k"}


async def test_first_record_wins_between_instances(backend: Backend) -> None:
    """Two instances record the same content at once: one owner, the same for both."""
    stores = [await backend.open() for _ in range(2)]
    await asyncio.gather(*(stores[n % 2].record([f"k{n}"], f"id{n}", "shared") for n in range(20)))
    owners = {await s.content_owner("shared") for s in stores}
    assert len(owners) == 1
    assert owners.pop() in {f"id{n}" for n in range(20)}


async def test_many_keys_are_queried_in_batches(store: StateStore) -> None:
    keys = [f"https://a.example/{i}" for i in range(1300)]
    await store.record(keys[::2], "id", None)
    assert await store.seen_keys(keys) == set(keys[::2])


async def test_long_and_unusual_keys(store: StateStore) -> None:
    keys = ["https://a.example/" + "x" * 5000, "guid:tag:a.example,2026:ünïcode/1", "key with spaces"]
    await store.record(keys, "id", None)
    assert await store.seen_keys([*keys, "guid:tag:a.example,2026:ünïcode/2"]) == set(keys)


async def test_fingerprints_since_a_time_oldest_first(store: StateStore) -> None:
    now = datetime.now(UTC).timestamp()
    await store.record(["k3"], "a3", None)
    await register(store, ("a3", "a1", SKETCH_A, now - 10))
    await store.record(["k1"], "a1", None)
    await register(store, ("a1", "a1", SKETCH_B, now - 300))
    await store.record(["k2"], "a2", None)
    await register(store, ("a2", "a2", SKETCH_C, now - 100))
    assert await store.fingerprints(now - 200) == [
        ("a2", "a2", SKETCH_C, now - 100),
        ("a3", "a1", SKETCH_A, now - 10),
    ]
    assert [r[0] for r in await store.fingerprints(0.0)] == ["a1", "a2", "a3"]


async def test_a_fingerprint_row_is_replaced(store: StateStore) -> None:
    now = datetime.now(UTC).timestamp()
    await store.record(["k"], "a", None)
    await register(store, ("a", "a", SKETCH_A, now - 50))
    await store.record(["k"], "a", None)
    await register(store, ("a", "b", SKETCH_B, now - 40))
    assert await store.fingerprints(0.0) == [("a", "b", SKETCH_B, now - 40)]


async def test_unknown_feed_has_a_fresh_state(store: StateStore) -> None:
    assert await store.feed_state("https://a.example/feed") == FeedState(url="https://a.example/feed")


async def test_feed_state_round_trip(store: StateStore) -> None:
    state = FeedState(
        url="https://a.example/feed",
        validators=Validators(etag='W/"abc"', last_modified="Tue, 10 Mar 2026 18:00:00 GMT"),
        last_polled_at=datetime(2026, 3, 10, 18, 5, tzinfo=UTC),
        last_success_at=datetime(2026, 3, 10, 18, 0, 30, 123456, tzinfo=UTC),
        last_error="timeout: request deadline passed",
        last_error_reason="timeout",
        consecutive_errors=2,
        entries_seen=41,
        new_entries=3,
        last_status=200,
        body_hash="abc",
        last_full_at=datetime(2026, 3, 10, 0, 0, tzinfo=UTC),
        gone=False,
        resolved_url="https://a.example/rss",
        children=("https://a.example/news.xml", "https://a.example/sport.xml"),
        first_success_at=datetime(2026, 3, 1, tzinfo=UTC),
        first_entries=20,
    )
    await store.save_feed_state(state)
    assert await store.feed_state("https://a.example/feed") == state


async def test_feed_state_keeps_the_instant(store: StateStore) -> None:
    cet = timezone(timedelta(hours=1))
    state = FeedState(url="https://a.example/feed", last_polled_at=datetime(2026, 3, 10, 19, 0, tzinfo=cet))
    await store.save_feed_state(state)
    loaded = await store.feed_state("https://a.example/feed")
    assert loaded.last_polled_at == datetime(2026, 3, 10, 18, 0, tzinfo=UTC)


async def test_feed_state_is_overwritten(store: StateStore) -> None:
    url = "https://a.example/feed"
    await store.save_feed_state(FeedState(url=url, validators=Validators(etag='"1"'), consecutive_errors=3))
    await store.save_feed_state(FeedState(url=url, entries_seen=5))
    loaded = await store.feed_state(url)
    assert loaded == FeedState(url=url, entries_seen=5)
    assert await store.feed_state("https://b.example/feed") == FeedState(url="https://b.example/feed")


async def test_state_persists_across_reopen(backend: Backend) -> None:
    first = await backend.open()
    now = datetime.now(UTC).timestamp()
    await first.record(["https://a.example/1"], "id1", "hash1")
    await register(first, ("id1", "id1", SKETCH_A, now))
    await first.save_feed_state(FeedState(url="https://a.example/feed", validators=Validators(etag='"e"')))
    await backend.close(first)
    second = await backend.open()
    assert await second.seen_keys(["https://a.example/1"]) == {"https://a.example/1"}
    assert await second.content_owner("hash1") == "id1"
    assert await second.fingerprints(0.0) == [("id1", "id1", SKETCH_A, now)]
    assert (await second.feed_state("https://a.example/feed")).validators.etag == '"e"'


async def test_instances_share_what_they_record(backend: Backend) -> None:
    """Two open stores on one location see each other's writes (several workers, one state)."""
    one, two = await backend.open(), await backend.open()
    await one.record(["k"], "id", "h")
    await two.save_feed_state(FeedState(url="https://a.example/feed", entries_seen=9))
    assert await two.seen_keys(["k"]) == {"k"}
    assert await two.content_owner("h") == "id"
    assert (await one.feed_state("https://a.example/feed")).entries_seen == 9


async def test_a_fingerprint_registers_only_on_the_latest_sequence(store: StateStore) -> None:
    now = datetime.now(UTC).timestamp()
    assert await store.fingerprint_seq() == 0
    assert await store.fingerprints_after(0) == ([], 0)
    assert await store.register_fingerprint(("a1", "a1", SKETCH_B, now), 0)
    assert not await store.register_fingerprint(("a2", "a2", SKETCH_B, now), 0)  # a1 came first: look again
    rows, seq = await store.fingerprints_after(0)
    assert rows == [("a1", "a1", SKETCH_B, now)]
    assert seq == await store.fingerprint_seq() == 1
    assert await store.register_fingerprint(("a2", "a1", SKETCH_C, now), seq)
    assert await store.fingerprints_after(1) == ([("a2", "a1", SKETCH_C, now)], 2)
    assert [r[0] for r in await store.fingerprints(0.0)] == ["a1", "a2"]  # the window holds both


async def test_instances_register_fingerprints_one_at_a_time(backend: Backend) -> None:
    """Many registrations at once from two instances: each sequence number is won exactly once."""
    one, two = await backend.open(), await backend.open()
    now = datetime.now(UTC).timestamp()

    async def register_named(store: StateStore, name: str) -> None:
        seq = await store.fingerprint_seq()
        while not await store.register_fingerprint((name, name, SKETCH_A, now), seq):
            _, seq = await store.fingerprints_after(seq)

    await asyncio.gather(*(register_named(one if n % 2 else two, f"a{n}") for n in range(20)))
    rows, seq = await one.fingerprints_after(0)
    assert seq == 20
    assert sorted(r[0] for r in rows) == sorted(f"a{n}" for n in range(20))


async def test_the_sequence_never_goes_back_when_old_rows_expire(backend: Backend) -> None:
    """Rows older than the TTL are deleted as records come; the sequence keeps counting."""
    store = await backend.open()
    long_ago = datetime.now(UTC).timestamp() - 400 * 86400
    assert await store.register_fingerprint(("old", "old", SKETCH_A, long_ago), 0)
    await store.record(["k"], "other", None)  # the first record deletes what expired
    assert await store.fingerprints(0.0) == []
    assert await store.fingerprint_seq() == 1
    assert await store.fingerprints_after(0) == ([], 1)
    assert await store.register_fingerprint(("new", "new", SKETCH_B, datetime.now(UTC).timestamp()), 1)


async def test_clear_forgets_everything_and_the_store_goes_on(backend: Backend) -> None:
    store = await backend.open()
    await store.record(["https://a.example/1"], "id1", "hash1")
    await register(store, ("id1", "id1", SKETCH_A, 1.0))
    await store.save_feed_state(FeedState(url="https://a.example/feed", entries_seen=7))
    await store.save_archive_progress("articles /data/a.warc.gz", 123, False)
    await store.clear()
    assert await store.archive_progress("articles /data/a.warc.gz") is None
    assert await store.seen_keys(["https://a.example/1"]) == set()
    assert await store.content_owner("hash1") is None
    assert await store.fingerprints(0.0) == []
    assert await store.feed_state("https://a.example/feed") == FeedState(url="https://a.example/feed")
    await store.record(["https://a.example/1"], "id2", "hash1")  # usable as before
    assert await store.content_owner("hash1") == "id2"
    await backend.close(store)
    reopened = await backend.open()  # and it is gone for good, not only from a cache
    assert await reopened.content_owner("hash1") == "id2"
    assert await reopened.feed_state("https://a.example/feed") == FeedState(url="https://a.example/feed")


async def test_archive_progress_is_kept_and_overwritten(backend: Backend) -> None:
    store = await backend.open()
    name = "articles https://data.example/crawl-data/CC-NEWS/2024/03/a.warc.gz"
    assert await store.archive_progress(name) is None
    await store.save_archive_progress(name, 1_234_567_890_123, False)
    await store.save_archive_progress(name, 2_000_000_000_000, True)
    assert await store.archive_progress(name) == (2_000_000_000_000, True)
    assert await store.archive_progress("articles other") is None
    await backend.close(store)
    reopened = await backend.open()  # written at once, not only cached
    assert await reopened.archive_progress(name) == (2_000_000_000_000, True)
    await backend.close(reopened)
