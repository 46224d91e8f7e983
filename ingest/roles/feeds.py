"""The head of roles all and poller: polls feeds as they come due, through the feed cycle."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from ingest.config import FeedConfig, Settings
from ingest.errors import FatalError
from ingest.kafka.producer import Publisher
from ingest.metrics import Metrics
from ingest.roles.base import RunSummary
from ingest.source.cycle import FeedCycle, PollReport
from ingest.source.scheduler import Scheduler
from ingest.tasks import drain
from ingest.web import StatusServer, feed_status

log = logging.getLogger(__name__)


class FeedLoop:
    """Polls ``feeds`` through ``cycle``: every one once, or each as it comes due until stopped.
    ``polling`` holds the polls in flight by feed index (a poller hands feeds over only once their
    polls ended)."""

    def __init__(
        self, settings: Settings, feeds: tuple[FeedConfig, ...], cycle: FeedCycle, metrics: Metrics
    ) -> None:
        self._settings = settings
        self.feeds = feeds
        self._cycle = cycle
        self._metrics = metrics
        self.scheduler = Scheduler(feeds, settings.scheduler)
        self.polling: dict[int, asyncio.Task[PollReport]] = {}
        self._rooms = asyncio.Semaphore(settings.pipeline.max_feeds_in_flight)

    def show_on(self, status: StatusServer, *, scheduled: bool) -> None:
        """The feeds on the status page, with their next checks if they are scheduled."""
        scheduler = self.scheduler if scheduled else None
        status.feeds = lambda: feed_status(self._cycle.health.states, self.feeds, scheduler)
        status.all_failing = self._cycle.health.all_failing

    async def _poll(self, feed: FeedConfig) -> PollReport:
        # A lane of the feed's host before a feed slot: many feeds of one host do not hold every
        # slot while they wait for its turn.
        async with self._cycle.lane(feed), self._rooms:
            return await self._cycle.poll(feed)

    async def once(self, stop: asyncio.Event) -> RunSummary:
        """Every feed once; the summary counts the articles Kafka did not acknowledge."""
        work = asyncio.ensure_future(asyncio.gather(*(self._poll(f) for f in self.feeds)))
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        await asyncio.wait([work, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not work.done():
            log.info("stop requested: draining in-flight work")
            await drain({work}, self._settings.pipeline.drain_timeout_s, "polls")
            return RunSummary(Counter(), Counter())
        reports = work.result()
        unacked = sum(
            1
            for report in reports
            for o in report.outcomes
            if o.kind == "deferred" and (o.reason or "").startswith("publish:")
        )
        summary = RunSummary(Counter(), Counter(), unacked)
        for report in reports:
            summary.add(report.result, report.outcomes)
        return summary

    async def forever(
        self, stop: asyncio.Event, publisher: Publisher, check: Callable[[], None] = lambda: None
    ) -> RunSummary:
        """Poll feeds as they come due until ``stop``; while Kafka is not acknowledging, start no new
        polls. ``check`` is called at every turn and may raise ``FatalError`` to stop (after the
        polls in flight are drained). Polls are tallied as they finish, not kept: the service runs
        for months."""
        scheduler = self.scheduler
        self._metrics.intake_paused.set_function(lambda: 0.0 if publisher.healthy else 1.0)
        running: set[asyncio.Task[PollReport]] = set()
        tally = RunSummary(Counter(), Counter())
        fatal: list[BaseException] = []

        async def one(index: int, feed: FeedConfig) -> PollReport:
            self._metrics.poll_lag.observe(max(0.0, time.monotonic() - scheduler.due_at[index]))
            report = await self._poll(feed)
            tally.add(report.result, report.outcomes)
            scheduler.done(
                index,
                report.consecutive_errors,
                time.monotonic(),
                backlog=report.backlog > 0,
                new_entries=report.new_entries if report.result == "modified" else 0,
                hint_s=report.hint_s,
                retry_after=report.retry_after,
                gone=report.gone,
            )
            return report

        def finished(task: asyncio.Task[PollReport], index: int) -> None:
            running.discard(task)
            if self.polling.get(index) is task:
                del self.polling[index]
            if not task.cancelled() and isinstance(task.exception(), FatalError):
                fatal.append(task.exception())  # type: ignore[arg-type]
                stop.set()

        while not stop.is_set():
            try:
                check()
            except FatalError as exc:  # drain what runs, then stop with it
                fatal.append(exc)
                break
            for index, feed in scheduler.due(time.monotonic()) if publisher.healthy else []:
                task = asyncio.create_task(one(index, feed))
                running.add(task)
                self.polling[index] = task
                task.add_done_callback(functools.partial(finished, index=index))
            wait = scheduler.next_due_in(time.monotonic())
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(wait if wait is not None else 1.0, 1.0))
        log.info("stop requested: draining %d polls in flight", len(running))
        await drain(running, self._settings.pipeline.drain_timeout_s, "polls")
        if fatal:
            raise fatal[0]
        return tally
