"""Redis state store: the state shared by several instances of the service.

Keys, under ``state.key_prefix`` (default ``ingest``):

- ``{p}:seen:{sha256(key)[:32]}`` → article id, expiring ``state.ttl_days`` after a feed last listed
  it (each sighting renews it, so an entry a feed keeps listing is never published again);
- ``{p}:content:{hash}`` → the article id that first carried that content, set only if absent, same
  expiry;
- ``{p}:copies`` (hash: article id → ``story_id published sketch``, the sketch in base64) and
  ``{p}:copies:time`` (sorted set: article id by publication time): the near-duplicate window;
  entries older than ``ttl_days`` are removed as new ones are recorded;
- ``{p}:copies:seq`` (counter) and ``{p}:copies:log`` (sorted set: article id by the counter's value
  when it was registered): the order in which instances registered near-duplicate rows. A registration is a
  WATCH/MULTI transaction on the counter, so it succeeds only if nobody registered one since the
  instance last read the log: two copies of a story processed at once by two instances are linked;
- ``{p}:feeds`` (hash: feed URL → the feed's state as JSON);
- ``{p}:archives`` (hash: archive name → ``offset finished``): how far backfills read their files.

``record`` runs as one transaction (MULTI/EXEC), so another instance never sees an article's keys
without its content hash. Connection failures are transient errors: the entry is retried later.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Awaitable, Iterable
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from ingest.config import StateSettings
from ingest.errors import FatalError, StateUnavailable
from ingest.state.base import FeedState, FingerprintRow
from ingest.state.codec import decode_feed_state, encode_feed_state

_BATCH = 500
# Old fingerprints are removed once every this many records (a range delete on the sorted set).
_PRUNE_EVERY = 1000
_CLEAR_BATCH = 500


class RedisStateStore:
    def __init__(self, settings: StateSettings, client: aioredis.Redis) -> None:
        self._client = client
        self._ttl_s = int(settings.ttl_days * 86400)
        p = settings.key_prefix
        self._prefix = p
        self._seen = f"{p}:seen:"
        self._content = f"{p}:content:"
        self._fp = f"{p}:copies"
        self._fp_time = f"{p}:copies:time"
        self._fp_seq = f"{p}:copies:seq"
        self._fp_log = f"{p}:copies:log"
        self._feeds = f"{p}:feeds"
        self._archives = f"{p}:archives"
        self._records = 0

    @classmethod
    async def open(cls, settings: StateSettings) -> RedisStateStore:
        """Connect and check the server answers. Raises ``FatalError`` when it does not."""
        client = aioredis.Redis.from_url(settings.url, decode_responses=True, socket_connect_timeout=10)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise FatalError(f"cannot reach the Redis state store: {exc}") from exc
        return cls(settings, client)

    async def _call(self, operation: Awaitable[Any]) -> Any:
        """The operation's result (strings: the client decodes responses), or ``StateUnavailable``."""
        try:
            return await operation
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"Redis state store: {exc}") from exc

    async def ping(self) -> None:
        await self._call(self._client.ping())

    def _seen_key(self, key: str) -> str:
        return self._seen + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    async def seen_keys(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        for i in range(0, len(wanted), _BATCH):
            chunk = wanted[i : i + _BATCH]
            names = [self._seen_key(k) for k in chunk]
            values = await self._call(self._client.mget(names))
            present = [(k, n) for k, n, v in zip(chunk, names, values, strict=True) if v is not None]
            found.update(k for k, _ in present)
            if present:  # still listed by a feed: keep it for another full TTL
                pipe = self._client.pipeline(transaction=False)
                for _, name in present:
                    pipe.expire(name, self._ttl_s)
                await self._call(pipe.execute())
        return found

    async def content_owner(self, content_hash: str) -> str | None:
        owner = await self._call(self._client.get(self._content + content_hash))
        return None if owner is None else str(owner)

    async def record(
        self,
        keys: Iterable[str],
        article_id: str,
        content_hash: str | None,
    ) -> None:
        pipe = self._client.pipeline(transaction=True)
        for key in dict.fromkeys(keys):
            pipe.set(self._seen_key(key), article_id, ex=self._ttl_s, nx=True)
        if content_hash:
            pipe.set(self._content + content_hash, article_id, ex=self._ttl_s, nx=True)
        self._records += 1
        if self._records % _PRUNE_EVERY == 1:
            await self._prune(time.time() - self._ttl_s)
        await self._call(pipe.execute())

    async def _prune(self, cutoff: float) -> None:
        expired = [
            str(a) for a in await self._call(self._client.zrangebyscore(self._fp_time, "-inf", f"({cutoff}"))
        ]
        for i in range(0, len(expired), _BATCH):
            chunk = expired[i : i + _BATCH]
            pipe = self._client.pipeline(transaction=True)
            pipe.hdel(self._fp, *chunk)
            pipe.zrem(self._fp_time, *chunk)
            pipe.zrem(self._fp_log, *chunk)
            await self._call(pipe.execute())

    async def fingerprints(self, since: float) -> list[FingerprintRow]:
        ids = [str(a) for a in await self._call(self._client.zrangebyscore(self._fp_time, since, "+inf"))]
        rows = await self._rows(ids)
        rows.sort(key=lambda r: r[3])
        return rows

    async def fingerprint_seq(self) -> int:
        return int(await self._call(self._client.get(self._fp_seq)) or 0)

    async def fingerprints_after(self, seq: int) -> tuple[list[FingerprintRow], int]:
        pipe = self._client.pipeline(transaction=True)  # the counter and the log as of one moment
        pipe.get(self._fp_seq)
        pipe.zrangebyscore(self._fp_log, f"({seq}", "+inf")
        latest, ids = await self._call(pipe.execute())
        return await self._rows([str(a) for a in ids]), max(int(latest or 0), seq)

    async def register_fingerprint(self, row: FingerprintRow, seq: int) -> bool:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                await pipe.watch(self._fp_seq)
                if int(await pipe.get(self._fp_seq) or 0) != seq:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.incr(self._fp_seq)
                self._add_fingerprint(pipe, row)
                pipe.zadd(self._fp_log, {row[0]: seq + 1})
                await pipe.execute()
        except WatchError:
            return False
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"Redis state store: {exc}") from exc
        return True

    def _add_fingerprint(self, pipe: Any, row: FingerprintRow) -> None:
        fid, story_id, sketched, published = row
        pipe.hset(self._fp, fid, f"{story_id} {published!r} {base64.b64encode(sketched).decode()}")
        pipe.zadd(self._fp_time, {fid: published})

    async def _rows(self, ids: list[str]) -> list[FingerprintRow]:
        rows: list[FingerprintRow] = []
        for i in range(0, len(ids), _BATCH):
            chunk = ids[i : i + _BATCH]
            values: list[Any] = await self._call(self._client.hmget(self._fp, chunk))
            for fid, value in zip(chunk, values, strict=True):
                if value is None:  # removed since the range was read
                    continue
                story_id, published, sketched = value.split(" ")
                rows.append((fid, story_id, base64.b64decode(sketched), float(published)))
        return rows

    async def feed_state(self, url: str) -> FeedState:
        text = await self._call(self._client.hget(self._feeds, url))
        return decode_feed_state(url, str(text)) if text else FeedState(url=url)

    async def save_feed_state(self, state: FeedState) -> None:
        await self._call(self._client.hset(self._feeds, state.url, encode_feed_state(state)))

    async def archive_progress(self, name: str) -> tuple[int, bool] | None:
        text = await self._call(self._client.hget(self._archives, name))
        if not text:
            return None
        offset, finished = str(text).split(" ")
        return int(offset), finished == "1"

    async def save_archive_progress(self, name: str, offset: int, finished: bool) -> None:
        await self._call(self._client.hset(self._archives, name, f"{offset} {int(finished)}"))

    async def clear(self) -> None:
        """Every key under the prefix, deleted in batches (SCAN: the server is not blocked)."""
        batch: list[str] = []
        try:
            async for key in self._client.scan_iter(match=f"{self._prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= _CLEAR_BATCH:
                    await self._client.unlink(*batch)
                    batch.clear()
            if batch:
                await self._client.unlink(*batch)
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"Redis state store: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()
