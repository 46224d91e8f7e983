"""The service's lifecycle: acquire resources in order, run the pipeline, release them in reverse.

broker (embedded or remote) ─► topics ─► state ─► status server ─► producer ─► workers ─► HTTP
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.config import FeedConfig, Settings
from ingest.errors import BrokerUnavailable, FatalError
from ingest.fleet import FeedShare, Worker
from ingest.kafka.admin import ensure_topics
from ingest.kafka.consumer import GroupMember
from ingest.kafka.embedded import EmbeddedBroker
from ingest.kafka.producer import Publisher
from ingest.metrics import Metrics
from ingest.net import AddressPolicy, HttpClient
from ingest.pipeline import Pipeline, PollReport
from ingest.source.feedlist import load_feeds
from ingest.source.scheduler import Scheduler
from ingest.stages.publish import Sink
from ingest.state import FeedState, open_state
from ingest.tasks import drain
from ingest.web import StatusServer
from ingest.workers import WorkerPool

log = logging.getLogger(__name__)

WORKER_PRELOAD = ("ingest.stages.extract", "ingest.source.parser")
_KAFKA_RETRY_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class RunSummary:
    polls: Counter[str]
    outcomes: Counter[str]
    unacknowledged: int

    def add(self, report: PollReport) -> None:
        self.polls[report.result] += 1
        self.outcomes.update(o.kind for o in report.outcomes)

    def describe(self) -> str:
        polls = ", ".join(f"{k}={v}" for k, v in sorted(self.polls.items())) or "none"
        outcomes = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items())) or "none"
        return f"polls: {polls}; entries: {outcomes}"


class Service:
    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._publisher: Publisher | None = None
        self._status: StatusServer | None = None
        self._running = False
        self._stopping = False

    def _ready(self) -> tuple[bool, str]:
        if self._stopping:
            return False, "shutting down"
        if not self._running:
            return False, "starting"
        if self._publisher is None or not self._publisher.healthy:
            return False, "Kafka not acknowledging"
        return True, "ok"

    async def run(self, *, once: bool, stop: asyncio.Event) -> RunSummary:
        """Run until done (``once``) or until ``stop`` is set. Raises ``FatalError``."""
        s = self.settings
        feeds = load_feeds(s) if s.role != "worker" else ()
        self.metrics.feeds_configured.set(len(feeds))
        self.metrics.topics(*_topics(s))
        if not feeds and s.role != "worker":
            log.warning("no feeds configured (set 'feeds' or 'feeds_file')")
        self.metrics.ready.set_function(lambda: 1.0 if self._ready()[0] else 0.0)
        async with AsyncExitStack() as stack:
            bootstrap = s.kafka.bootstrap_servers
            if s.kafka.embedded:
                broker = EmbeddedBroker(s.kafka.embedded_host, s.kafka.embedded_port)
                bootstrap = await asyncio.to_thread(broker.start)
                stack.callback(broker.stop)
            state = await open_state(s.state)
            stack.push_async_callback(state.close)
            status = StatusServer(self.metrics, self._ready, s.metrics.host, s.metrics.port)
            await status.start()
            stack.push_async_callback(status.stop)
            publisher = Publisher(s.kafka, bootstrap, self.metrics)
            stack.push_async_callback(publisher.close)
            if not await self._connect_kafka(publisher, bootstrap, once=once, stop=stop):
                self._stopping = True
                return _summarise([])
            self._publisher = publisher
            http = await stack.enter_async_context(
                HttpClient(s.http, AddressPolicy(s.http.private_allowance))
            )
            workers = WorkerPool(
                s.pipeline.workers,
                task_timeout_s=s.pipeline.task_timeout_s,
                memory_limit_bytes=s.pipeline.worker_memory_mb * 1024 * 1024,
                preload=WORKER_PRELOAD,
                on_restart=lambda reason: self.metrics.worker_restarts.labels(reason).inc(),
            )
            await workers.start()
            stack.push_async_callback(workers.close)
            self.metrics.workers.pids = workers.pids
            pipeline = Pipeline(
                s,
                http=http,
                state=state,
                sink=Sink(publisher, s.kafka.topic, s.kafka.dlq_topic, s.kafka.links_topic),
                metrics=self.metrics,
                workers=workers,
            )
            self._status = status
            status.feeds = lambda: feed_status(pipeline.health.states, feeds, None)
            status.recent = lambda: tuple(pipeline.recent)
            self._running = True
            log.info(
                "ingest running (role %s): %d feeds, topic %s, bootstrap %s, status on %s:%d",
                s.role,
                len(feeds),
                s.kafka.links_topic if s.role == "poller" else s.kafka.topic,
                bootstrap,
                s.metrics.host,
                status.port,
            )
            if once:
                summary = _summarise(await self._once(pipeline, feeds, stop))
            elif s.role == "worker":
                worker = Worker(s, bootstrap, pipeline, publisher, self.metrics)
                await worker.run(stop)
                summary = RunSummary(Counter(), worker.outcomes, 0)
            else:
                summary = await self._forever(pipeline, publisher, feeds, stop, bootstrap)
            self._stopping = True
            return summary
        raise AssertionError("unreachable")

    async def _connect_kafka(
        self, publisher: Publisher, bootstrap: str, *, once: bool, stop: asyncio.Event
    ) -> bool:
        """Create topics and connect the producer. With ``once`` a broker that does not answer is
        fatal; otherwise the service waits for it (``/readyz`` false). False if stopped meanwhile."""
        kafka = self.settings.kafka
        delay = 1.0
        while not stop.is_set():
            try:
                await asyncio.to_thread(ensure_topics, kafka, bootstrap, _topics(self.settings))
                await publisher.start()
                return True
            except BrokerUnavailable as exc:
                if once:
                    raise
                if delay == 1.0:
                    log.warning("%s; waiting for it (readyz is false meanwhile)", exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, _KAFKA_RETRY_MAX_S)
        return False

    async def _once(
        self, pipeline: Pipeline, feeds: tuple[FeedConfig, ...], stop: asyncio.Event
    ) -> list[PollReport]:
        room = asyncio.Semaphore(self.settings.pipeline.max_feeds_in_flight)

        async def one(feed: FeedConfig) -> PollReport:
            async with pipeline.poll_lane(feed), room:
                return await pipeline.poll(feed)

        work: asyncio.Future[list[PollReport]] = asyncio.ensure_future(
            asyncio.gather(*(one(f) for f in feeds))
        )
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        await asyncio.wait([work, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not work.done():
            log.info("stop requested: draining in-flight work")
            await drain({work}, self.settings.pipeline.drain_timeout_s, "polls")
            return []
        return list(work.result())

    async def _forever(
        self,
        pipeline: Pipeline,
        publisher: Publisher,
        feeds: tuple[FeedConfig, ...],
        stop: asyncio.Event,
        bootstrap: str,
    ) -> RunSummary:
        """Poll feeds as they come due; while Kafka is not acknowledging, start no new polls.
        Role poller: only the feeds of this poller's share (``ingest.fleet.FeedShare``).

        Polls are tallied as they finish, not kept: the service runs for months."""
        s = self.settings
        scheduler = Scheduler(feeds, s.scheduler)
        if self._status is not None:
            self._status.feeds = lambda: feed_status(pipeline.health.states, feeds, scheduler)
        self.metrics.intake_paused.set_function(lambda: 0.0 if publisher.healthy else 1.0)
        room = asyncio.Semaphore(s.pipeline.max_feeds_in_flight)
        running: set[asyncio.Task[PollReport]] = set()
        tally = RunSummary(Counter(), Counter(), 0)
        fatal: list[BaseException] = []
        share: FeedShare | None = None
        member: GroupMember | None = None
        if s.role == "poller":
            share = FeedShare(feeds, scheduler, pipeline.state, self.metrics, s.kafka.consumer.revoke_wait_s)
            member = GroupMember(
                s.kafka,
                bootstrap,
                topic=s.kafka.feeds_topic,
                group_id=s.kafka.consumer.poller_group,
                metrics=self.metrics,
                fetch=False,
                on_assigned=share.assigned,
                on_revoked=share.revoked,
            )
            await member.start()

        async def one(index: int, feed: FeedConfig) -> PollReport:
            try:
                async with pipeline.poll_lane(feed), room:
                    self.metrics.poll_lag.observe(max(0.0, time.monotonic() - scheduler.due_at[index]))
                    report = await pipeline.poll(feed)
            except FatalError:
                raise
            except Exception as exc:  # a bug must not take the feed out of the schedule
                log.exception("poll of %s failed unexpectedly", feed.url)
                report = PollReport(feed.url, "error", error=type(exc).__name__, consecutive_errors=1)
            tally.add(report)
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
            if share is not None and share.polling.get(index) is task:
                del share.polling[index]
            if not task.cancelled() and isinstance(task.exception(), FatalError):
                fatal.append(task.exception())  # type: ignore[arg-type]
                stop.set()

        try:
            while not stop.is_set():
                try:
                    if member is not None:
                        member.check()
                except FatalError as exc:  # drain what runs, then stop with it
                    fatal.append(exc)
                    stop.set()
                    break
                now = time.monotonic()
                for index, feed in scheduler.due(now) if publisher.healthy else []:
                    task = asyncio.create_task(one(index, feed))
                    running.add(task)
                    if share is not None:
                        share.polling[index] = task
                    task.add_done_callback(functools.partial(finished, index=index))
                wait = scheduler.next_due_in(time.monotonic())
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=min(wait if wait is not None else 1.0, 1.0))
            log.info("stop requested: draining %d polls in flight", len(running))
            await drain(running, s.pipeline.drain_timeout_s, "polls")
        finally:
            if member is not None:
                await member.close()
        if fatal:
            raise fatal[0]
        return tally


def _topics(settings: Settings) -> dict[str, int]:
    """The topics a role writes to or reads, with the partitions to create them with."""
    k = settings.kafka
    articles = {k.topic: k.partitions, k.dlq_topic: k.partitions}
    links = {k.links_topic: k.partitions}
    if settings.role == "poller":
        return links | {k.feeds_topic: k.feed_partitions}
    if settings.role == "worker":
        return articles | links
    return articles


def feed_status(
    states: dict[str, FeedState], feeds: tuple[FeedConfig, ...], scheduler: Scheduler | None
) -> list[dict[str, Any]]:
    """The /feeds page: every configured feed with its health and its next check (wall time)."""
    offset = time.time() - time.monotonic()
    now = datetime.now(UTC)
    listed = []
    for index, feed in enumerate(feeds):
        state = states.get(feed.url) or FeedState(url=feed.url)
        next_check = (
            datetime.fromtimestamp(scheduler.due_at[index] + offset, UTC).isoformat()
            if scheduler and scheduler.owns(index)  # a poller schedules only its share of the feeds
            else None
        )
        status: dict[str, Any] = {
            **_health(state),
            "url": feed.url,
            "name": feed.name,
            "last_success_at": state.last_success_at,
            "last_status": state.last_status,
            "last_error": state.last_error,
            "next_check_at": next_check,
            "new_entries_last_poll": state.new_entries,
            "entries_per_day": _rounded(state.entries_per_day(now)),
            "validators": {
                "etag": state.validators.etag is not None,
                "last_modified": state.validators.last_modified is not None,
            },
        }
        if state.children:  # a sitemap index: the child sitemaps polled with it
            status["sitemaps"] = [_health(states.get(url) or FeedState(url=url)) for url in state.children]
        listed.append(status)
    return listed


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _health(state: FeedState) -> dict[str, Any]:
    """What /feeds says of any feed, a configured one or a child sitemap of an index."""
    return {
        "url": state.url,
        "state": state.health if state.last_polled_at else "new",
        "last_polled_at": state.last_polled_at,
        "last_error_reason": state.last_error_reason,
        "consecutive_errors": state.consecutive_errors,
        "entries_seen": state.entries_seen,
    }


def _summarise(reports: list[PollReport]) -> RunSummary:
    """Counts of a ``--once`` run, with the articles Kafka did not acknowledge (a long-running
    service retries those itself)."""
    polls: Counter[str] = Counter(r.result for r in reports)
    outcomes: Counter[str] = Counter(o.kind for r in reports for o in r.outcomes)
    unacked = sum(
        1
        for r in reports
        for o in r.outcomes
        if o.kind == "deferred" and (o.reason or "").startswith("publish:")
    )
    return RunSummary(polls, outcomes, unacked)
