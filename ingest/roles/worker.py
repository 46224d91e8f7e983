"""Role worker: one of several that share the links the pollers found.

    links topic (group ingest-workers) ─► claim ─► fetch ─► extract ─► normalise ─► dedup ─► publish ─► commit

A worker consumes the links topic and commits a partition's offset only up to its oldest link that
was not committed yet (its article, drop or dead letter acknowledged: each item's ticket names its
link's offset as its origin). A link deferred by a failure a retry may cure is retried in place,
with backoff, and holds its partition's commit until then. A rebalance forgets only the partitions
that went to another member, once it is over (see ``Links._assigned``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from contextlib import suppress
from typing import Any

from ingest.config import Settings
from ingest.errors import FatalError, ParseError
from ingest.kafka.consumer import GroupMember, Partitions
from ingest.kafka.offsets import OffsetTracker
from ingest.pipeline import article_chain
from ingest.roles.base import Published, Resources, RunSummary, article_topics
from ingest.runner import Runner
from ingest.source.links import decode_link
from ingest.tasks import drain

log = logging.getLogger(__name__)

_RETRY_FIRST_S = 1.0
_RETRY_MAX_S = 60.0


class LinkOffset:
    """The origin of an item read from the links topic: its partition and offset."""

    def __init__(self, links: Links, partition: int, offset: int) -> None:
        self._links = links
        self.partition = partition
        self.offset = offset

    def committed(self) -> None:
        self._links.done(self.partition, self.offset)


class Worker:
    feeds = None  # polls none

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def topics(self) -> dict[str, int]:
        k = self._settings.kafka
        return article_topics(self._settings) | {k.links_topic: k.partitions}

    async def run(self, resources: Resources, *, once: bool, stop: asyncio.Event) -> RunSummary:
        """Join the workers' group, work until ``stop``, drain, commit, leave."""
        r = resources
        published = Published(r.metrics)
        chain = article_chain(
            r.settings,
            state=r.state,
            http=r.http,
            workers=r.workers,
            sink=r.sink(),
            metrics=r.metrics,
            acknowledged=published,
            archive=r.archive,
            linked=True,
        )
        r.status.recent = lambda: tuple(published.recent)
        links = Links(r, r.runner(chain))
        await links.run(stop)
        return RunSummary(Counter(), links.outcomes)


class Links:
    """The head of the worker's chain: the links consumer, and the offsets it may commit."""

    def __init__(self, resources: Resources, runner: Runner) -> None:
        k = resources.settings.kafka
        self._settings = resources.settings
        self._publisher = resources.publisher
        self._metrics = resources.metrics
        self._runner = runner
        self._tracker = OffsetTracker()
        self._running: set[asyncio.Task[None]] = set()
        self._fatal: list[BaseException] = []
        self._uncommitted = 0
        self.outcomes: Counter[str] = Counter()  # links by final outcome, for the exit summary
        self._member = GroupMember(
            k,
            resources.bootstrap,
            topic=k.links_topic,
            group_id=k.consumer.worker_group,
            metrics=resources.metrics,
            fetch=True,
            on_assigned=self._assigned,
            paused=self._paused,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Raises ``FatalError`` (after draining) if one was met."""
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

    def _paused(self) -> bool:
        """Read by the consumer thread: too much in hand, or Kafka not acknowledging."""
        too_many = self._uncommitted >= self._settings.kafka.consumer.max_uncommitted
        return too_many or not self._publisher.healthy

    async def _assigned(self, partitions: Partitions, count: int) -> None:
        """The rebalance is over: what went elsewhere is the new owner's (it rereads from the last
        commit); what stayed keeps holding its commit for the links still in hand."""
        self._tracker.keep_only(partitions)

    def done(self, partition: int, offset: int) -> None:
        """A link was committed (or could not be read): its offset may be committed past."""
        self._tracker.done(partition, offset)
        self._settle()

    def _settle(self) -> None:
        """Commit what is done; count what is in hand (fetching pauses on it, see ``_paused``)."""
        self._member.commit(self._tracker.committable())
        self._uncommitted = self._tracker.uncommitted()
        self._metrics.links_uncommitted.set(self._uncommitted)

    async def _consume(self, stop: asyncio.Event) -> None:
        member = self._member
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                fetched = asyncio.ensure_future(member.records())
                await asyncio.wait([fetched, stopped], return_when=asyncio.FIRST_COMPLETED)
                if not fetched.done():
                    fetched.cancel()
                    return
                # Every record handed over is carried, even of a partition revoked meanwhile: the
                # eager protocol revokes all of them before it assigns them again, and the consumer
                # keeps its position for those that come back, so a record skipped here would never
                # be read again. One that went to another worker is carried twice, at worst.
                for record in fetched.result():
                    self._tracker.consumed(record.partition, record.offset)
                    self._metrics.links_consumed.inc()
                    task = asyncio.create_task(self._one(record, stop))
                    self._running.add(task)
                    task.add_done_callback(functools.partial(self._finished, stop=stop))
                self._settle()
        finally:
            stopped.cancel()

    def _finished(self, task: asyncio.Task[None], stop: asyncio.Event) -> None:
        self._running.discard(task)
        if not task.cancelled() and isinstance(task.exception(), FatalError):
            self._fatal.append(task.exception())  # type: ignore[arg-type]
            stop.set()

    async def _one(self, record: Any, stop: asyncio.Event) -> None:
        origin = LinkOffset(self, record.partition, record.offset)
        try:
            entry = decode_link(record.value)
        except ParseError as exc:
            log.warning("dropped the link at %s/%d: %s", record.partition, record.offset, exc)
            self._runner.dropped("link", "bad_link")
            origin.committed()  # nothing to carry, nothing to wait for
            return
        delay = _RETRY_FIRST_S
        while not (outcome := await self._runner.run(entry, origin)).terminal:
            if stop.is_set():
                return  # not done: whoever holds the partition next reads it again
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, _RETRY_MAX_S)
        self.outcomes[outcome.kind] += 1
