"""Role poller: one of several that share the feeds, handing new entries to the workers.

    scheduler (its share) ─► feed cycle ─► claim ─► link ─► commit      (links topic ─► workers)

The share is a Kafka consumer-group assignment: the pollers' group holds the partitions of the
feeds topic (it carries no messages), and a feed belongs to partition ``crc32(url) % partitions``.
Kafka decides who polls what and moves a dead poller's share to the others. A feed taken over comes
due one interval after its last poll by anyone (the time is in the shared state), so a takeover does
not poll a feed twice in one interval; a poller giving feeds up first lets their polls in flight end.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from datetime import UTC, datetime

from ingest.config import FeedConfig, Settings
from ingest.errors import StateUnavailable
from ingest.kafka.consumer import GroupMember, Partitions
from ingest.metrics import Metrics
from ingest.pipeline import link_chain
from ingest.roles.base import Resources, RunSummary
from ingest.roles.feeds import FeedLoop
from ingest.source.feedlist import load_feeds
from ingest.state import StateStore

log = logging.getLogger(__name__)

_STATE_BATCH = 500


def feed_partition(url: str, partitions: int) -> int:
    """The partition of the feeds topic a feed belongs to (stable across processes and versions)."""
    return zlib.crc32(url.encode("utf-8")) % partitions


class FeedShare:
    """A poller's share of the feeds, kept in step with its partitions of the feeds topic."""

    def __init__(self, loop: FeedLoop, state: StateStore, metrics: Metrics, revoke_wait_s: float) -> None:
        self._loop = loop
        self._scheduler = loop.scheduler
        self._state = state
        self._metrics = metrics
        self._revoke_wait_s = revoke_wait_s
        self._count = 0  # the feeds topic's partitions, and each feed's partition among them
        self._partition_of: list[int] = []
        self._scheduler.assign((), {}, time.monotonic())  # nothing until the group says

    def _feeds_of(self, partitions: Partitions) -> set[int]:
        return {i for i, p in enumerate(self._partition_of) if p in partitions}

    async def assigned(self, partitions: Partitions, count: int) -> None:
        if count != self._count:  # once, not at every rebalance
            feeds = self._loop.feeds
            self._count, self._partition_of = count, [feed_partition(f.url, count) for f in feeds]
        owned = self._feeds_of(partitions)
        new = sorted(owned - self._scheduler.owned)
        due_in = await self._takeover_delays(new)
        self._scheduler.assign(owned, due_in, time.monotonic())
        self._metrics.feeds_owned.set(len(owned))
        log.info("polling %d of %d feeds", len(owned), len(self._loop.feeds))

    async def revoked(self, partitions: Partitions) -> None:
        gone = self._feeds_of(partitions)
        self._scheduler.assign(self._scheduler.owned - gone, {}, time.monotonic())
        self._metrics.feeds_owned.set(len(self._scheduler.owned))
        leaving = [task for index, task in self._loop.polling.items() if index in gone]
        if leaving:  # let them end (and save their state) before another poller takes the feeds
            _, late = await asyncio.wait(leaving, timeout=self._revoke_wait_s)
            if late:
                log.warning(
                    "%d polls of feeds handed over still running after %.0fs", len(late), self._revoke_wait_s
                )

    async def _takeover_delays(self, indices: list[int]) -> dict[int, float]:
        """Seconds until each newly owned feed is due, from its last poll in the shared state; one
        whole interval for all of them when the state store does not answer (no feed is polled
        twice in an interval, at the cost of a late poll)."""
        feeds = self._loop.feeds
        now = datetime.now(UTC)
        delays: dict[int, float] = {}
        for start in range(0, len(indices), _STATE_BATCH):
            chunk = indices[start : start + _STATE_BATCH]
            try:
                states = await asyncio.gather(*(self._state.feed_state(feeds[i].url) for i in chunk))
            except StateUnavailable as exc:
                log.warning("feeds taken over wait one interval: %s", exc)
                return {i: self._scheduler.takeover_delay(i, 0.0, 0) for i in indices}
            for index, state in zip(chunk, states, strict=True):
                since = (now - state.last_polled_at).total_seconds() if state.last_polled_at else None
                delays[index] = self._scheduler.takeover_delay(index, since, state.consecutive_errors)
        return delays


class Poller:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.feeds: tuple[FeedConfig, ...] = load_feeds(settings)

    def topics(self) -> dict[str, int]:
        k = self._settings.kafka
        return {k.links_topic: k.partitions, k.dlq_topic: k.partitions, k.feeds_topic: k.feed_partitions}

    async def run(self, resources: Resources, *, once: bool, stop: asyncio.Event) -> RunSummary:
        r = resources
        k = r.settings.kafka
        runner = r.runner(link_chain(state=r.state, sink=r.sink()))
        cycle = r.feed_cycle(runner)
        loop = FeedLoop(r.settings, self.feeds, cycle, r.metrics)
        loop.show_on(r.status, scheduled=True)  # next checks of its own share only
        share = FeedShare(loop, r.state, r.metrics, k.consumer.revoke_wait_s)
        member = GroupMember(
            k,
            r.bootstrap,
            topic=k.feeds_topic,
            group_id=k.consumer.poller_group,
            metrics=r.metrics,
            fetch=False,
            on_assigned=share.assigned,
            on_revoked=share.revoked,
        )
        await member.start()
        try:
            return await loop.forever(stop, r.publisher, check=member.check)
        finally:
            await member.close()
