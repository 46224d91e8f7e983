"""The fleet: pollers share the feeds, workers share the links (roles poller and worker).

    pollers (group ingest-pollers, on news.feeds) ─► news.links
        ─► workers (group ingest-workers) ─► news.articles

Both shares are Kafka consumer-group assignments, so Kafka decides who does what and moves a dead
member's share to the others; there is no coordinator of our own.

- A feed belongs to partition ``crc32(url) % partitions`` of the feeds topic, which carries no
  messages: a poller polls the feeds of the partitions it holds. A feed it takes over comes due one
  interval after its last poll by anyone (the time is in the shared state), so a takeover does not
  poll a feed twice in one interval; a poller giving feeds up first lets their polls in flight end.
- A worker consumes the links topic and commits a partition's offset only up to its oldest link
  whose article (or drop, or dead letter) Kafka has not acknowledged. A link deferred by a failure a
  retry may cure is retried in place, with backoff, and holds its partition's commit until then.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from ingest.config import FeedConfig, Settings
from ingest.errors import FatalError, ParseError
from ingest.kafka.consumer import GroupMember, Partitions
from ingest.kafka.offsets import OffsetTracker
from ingest.kafka.producer import Publisher
from ingest.metrics import Metrics
from ingest.pipeline import Pipeline
from ingest.source.links import decode_link
from ingest.source.scheduler import Scheduler
from ingest.state import StateStore
from ingest.tasks import drain

log = logging.getLogger(__name__)

_RETRY_FIRST_S = 1.0
_RETRY_MAX_S = 60.0
_STATE_BATCH = 500


def feed_partition(url: str, partitions: int) -> int:
    """The partition of the feeds topic a feed belongs to (stable across processes and versions)."""
    return zlib.crc32(url.encode("utf-8")) % partitions


class FeedShare:
    """A poller's share of the feeds, kept in step with its partitions of the feeds topic."""

    def __init__(
        self,
        feeds: tuple[FeedConfig, ...],
        scheduler: Scheduler,
        state: StateStore,
        metrics: Metrics,
        revoke_wait_s: float,
    ) -> None:
        self._feeds = feeds
        self._scheduler = scheduler
        self._state = state
        self._metrics = metrics
        self._revoke_wait_s = revoke_wait_s
        self._count = 0  # the feeds topic's partitions, and each feed's partition among them
        self._partition_of: list[int] = []
        self.polling: dict[int, asyncio.Task[Any]] = {}  # feed index → its poll in flight
        scheduler.assign((), {}, time.monotonic())  # nothing until the group says

    def _feeds_of(self, partitions: Partitions) -> set[int]:
        return {i for i, p in enumerate(self._partition_of) if p in partitions}

    async def assigned(self, partitions: Partitions, count: int) -> None:
        if count != self._count:  # once, not at every rebalance
            self._count, self._partition_of = count, [feed_partition(f.url, count) for f in self._feeds]
        owned = self._feeds_of(partitions)
        new = sorted(owned - self._scheduler.owned)
        due_in = await self._takeover_delays(new)
        self._scheduler.assign(owned, due_in, time.monotonic())
        self._metrics.feeds_owned.set(len(owned))
        log.info("polling %d of %d feeds", len(owned), len(self._feeds))

    async def revoked(self, partitions: Partitions) -> None:
        gone = self._feeds_of(partitions)
        self._scheduler.assign(self._scheduler.owned - gone, {}, time.monotonic())
        self._metrics.feeds_owned.set(len(self._scheduler.owned))
        leaving = [task for index, task in self.polling.items() if index in gone]
        if leaving:  # let them end (and save their state) before another poller takes the feeds
            _, late = await asyncio.wait(leaving, timeout=self._revoke_wait_s)
            if late:
                log.warning(
                    "%d polls of feeds handed over still running after %.0fs", len(late), self._revoke_wait_s
                )

    async def _takeover_delays(self, indices: list[int]) -> dict[int, float]:
        """Seconds until each newly owned feed is due, from its last poll in the shared state."""
        now = datetime.now(UTC)
        delays: dict[int, float] = {}
        for start in range(0, len(indices), _STATE_BATCH):
            chunk = indices[start : start + _STATE_BATCH]
            states = await asyncio.gather(*(self._state.feed_state(self._feeds[i].url) for i in chunk))
            for index, state in zip(chunk, states, strict=True):
                since = (now - state.last_polled_at).total_seconds() if state.last_polled_at else None
                delays[index] = self._scheduler.takeover_delay(index, since, state.consecutive_errors)
        return delays


class Worker:
    """Role worker: carries links through the stages and commits what is done."""

    def __init__(
        self, settings: Settings, bootstrap: str, pipeline: Pipeline, publisher: Publisher, metrics: Metrics
    ) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._publisher = publisher
        self._metrics = metrics
        self._tracker = OffsetTracker()
        self._running: set[asyncio.Task[None]] = set()
        self._fatal: list[BaseException] = []
        self.outcomes: Counter[str] = Counter()  # links by final outcome, for the exit summary
        kafka = settings.kafka
        self._member = GroupMember(
            kafka,
            bootstrap,
            topic=kafka.links_topic,
            group_id=kafka.consumer.worker_group,
            metrics=metrics,
            fetch=True,
            on_revoked=self._revoked,
            paused=self._paused,
        )
        self._uncommitted = 0

    def _paused(self) -> bool:
        """Read by the consumer thread: too much in hand, or Kafka not acknowledging."""
        return (
            self._uncommitted >= self._settings.kafka.consumer.max_uncommitted or not self._publisher.healthy
        )

    async def _revoked(self, partitions: Partitions) -> None:
        self._tracker.forget(partitions)

    def _settle(self) -> None:
        """Commit what is done; count what is in hand (fetching pauses on it, see ``_paused``)."""
        self._member.commit(self._tracker.committable())
        self._uncommitted = self._tracker.uncommitted()
        self._metrics.links_uncommitted.set(self._uncommitted)

    async def run(self, stop: asyncio.Event) -> None:
        """Join the workers' group, work until ``stop``, drain, commit, leave. Raises ``FatalError``."""
        await self._member.start()
        try:
            await self._consume(stop)
            log.info("stop requested: draining %d links in flight", len(self._running))
            await drain(set(self._running), self._settings.pipeline.drain_timeout_s, "links")
            self._settle()
        finally:
            await self._member.close()
        if self._fatal:
            raise self._fatal[0]

    async def _consume(self, stop: asyncio.Event) -> None:
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                fetched = asyncio.ensure_future(self._member.records())
                await asyncio.wait([fetched, stopped], return_when=asyncio.FIRST_COMPLETED)
                if not fetched.done():
                    fetched.cancel()
                    return
                for record in fetched.result():
                    if record.partition not in self._member.partitions:
                        continue  # handed to another worker meanwhile: it reads this one
                    self._tracker.consumed(record.partition, record.offset)
                    self._metrics.links_consumed.inc()
                    task = asyncio.create_task(self._one(record, stop))
                    self._running.add(task)
                    task.add_done_callback(self._finished(stop))
                self._settle()
        finally:
            stopped.cancel()

    def _finished(self, stop: asyncio.Event) -> Callable[[asyncio.Task[None]], None]:
        def finished(task: asyncio.Task[None]) -> None:
            self._running.discard(task)
            if not task.cancelled() and isinstance(task.exception(), FatalError):
                self._fatal.append(task.exception())  # type: ignore[arg-type]
                stop.set()

        return finished

    async def _one(self, record: Any, stop: asyncio.Event) -> None:
        try:
            entry = decode_link(record.value)
        except ParseError as exc:
            log.warning("dropped the link at %s/%d: %s", record.partition, record.offset, exc)
            self._metrics.stage_dropped.labels("link", "bad_link").inc()
        else:
            delay = _RETRY_FIRST_S
            while not (outcome := await self._pipeline.process(entry, linked=True)).terminal:
                if stop.is_set():
                    return  # not done: whoever holds the partition next reads it again
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            self.outcomes[outcome.kind] += 1
        self._tracker.done(record.partition, record.offset)
        self._settle()
