"""What only the Redis store does: expiry, pruning, key prefixes, and how it fails."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import redis

from ingest.config import Settings, StateSettings
from ingest.errors import FatalError, StateUnavailable
from ingest.kafka.embedded import free_port
from ingest.state import RedisStateStore, open_state, redis_store
from tests.support.redis import running_redis
from tests.unit.state.rows import register

# Near-duplicate sketches as the dedup stage writes them (a site tag, then sampled values).
SKETCH_A = b"\x01\x02\x03\x04" + bytes(range(8))
SKETCH_B = b"\xff\xfe\xfd\xfc"
SKETCH_C = bytes(range(256)) * 4


def settings(url: str, **overrides: object) -> StateSettings:
    return StateSettings(url=url, key_prefix=f"t-{uuid.uuid4().hex[:8]}", **overrides)  # type: ignore[arg-type]


async def test_seen_keys_and_content_hashes_expire(redis_url: str) -> None:
    config = settings(redis_url, ttl_days=2)
    store = await open_state(config)
    try:
        await store.record(["https://a.example/1"], "id1", "hash1")
    finally:
        await store.close()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = client.keys(f"{config.key_prefix}:*")
        assert len(keys) == 2  # one seen key, one content hash
        for key in keys:
            assert 2 * 86400 - 60 <= client.ttl(key) <= 2 * 86400
    finally:
        client.close()


async def test_a_key_still_listed_by_a_feed_does_not_expire(redis_url: str) -> None:
    config = settings(redis_url, ttl_days=2)
    store = await open_state(config)
    client = redis.Redis.from_url(redis_url)
    try:
        await store.record(["https://a.example/1"], "id1", None)
        (key,) = client.keys(f"{config.key_prefix}:seen:*")
        client.expire(key, 60)  # as if recorded two days ago
        assert await store.seen_keys(["https://a.example/1"]) == {"https://a.example/1"}
        assert client.ttl(key) > 2 * 86400 - 60
    finally:
        client.close()
        await store.close()


async def test_fingerprints_older_than_the_ttl_are_pruned(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "_PRUNE_EVERY", 2)
    store = await open_state(settings(redis_url, ttl_days=1))
    try:
        now = time.time()
        await store.record(["old"], "old", None)
        await register(store, ("old", "old", SKETCH_A, now - 3 * 86400))
        await store.record(["new"], "new", None)
        await register(store, ("new", "new", SKETCH_B, now - 60))
        await store.record(["newer"], "newer", None)
        await register(store, ("newer", "newer", SKETCH_C, now))  # prunes first
        assert [r[0] for r in await store.fingerprints(0.0)] == ["new", "newer"]
    finally:
        await store.close()


async def test_prefixes_keep_deployments_apart(redis_url: str) -> None:
    one, two = await open_state(settings(redis_url)), await open_state(settings(redis_url))
    try:
        await one.record(["k"], "id", "h")
        assert await two.seen_keys(["k"]) == set()
        assert await two.content_owner("h") is None
    finally:
        await one.close()
        await two.close()


async def test_no_server_at_start_is_fatal() -> None:
    url = f"redis://127.0.0.1:{free_port('127.0.0.1')}/0"
    with pytest.raises(FatalError, match="cannot reach the Redis state store"):
        await RedisStateStore.open(settings(url))


async def test_a_server_lost_mid_run_is_transient(tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        store = await open_state(settings(url))
        await store.record(["k"], "id", None)
    try:
        with pytest.raises(StateUnavailable):
            await store.seen_keys(["k"])
        with pytest.raises(StateUnavailable):
            await store.record(["k2"], "id2", None)
    finally:
        await store.close()


def test_state_url_schemes() -> None:
    assert StateSettings(url="redis://cache:6379/2").backend == "redis"
    assert StateSettings(url="rediss://cache:6380/0").backend == "redis"
    assert StateSettings(url="sqlite:///data/x.db").backend == "sqlite"
    with pytest.raises(ValueError, match="expected sqlite"):
        StateSettings(url="postgres://db/ingest")


def test_the_password_in_the_url_is_masked() -> None:
    masked = Settings(state={"url": "redis://user:s3cret@cache:6379/0"}).masked()  # type: ignore[arg-type]
    assert masked["state"]["url"] == "redis://user:**********@cache:6379/0"
    assert "s3cret" not in str(masked)
