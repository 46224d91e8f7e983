"""The service's lifecycle: acquire resources in order, run the role, release them in reverse.

broker (embedded or remote) ─► topics ─► state ─► status server ─► producer ─► workers ─► HTTP ─► role

Ready (``/readyz``) while Kafka acknowledges and the state store answers (probed every few
seconds), and not while starting or stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from contextlib import AsyncExitStack, suppress

from ingest.archive.writer import Archive
from ingest.config import Settings
from ingest.errors import BrokerUnavailable, StateUnavailable
from ingest.kafka.admin import ensure_topics
from ingest.kafka.embedded import EmbeddedBroker
from ingest.kafka.producer import Publisher
from ingest.kafka.registry import topic_schemas
from ingest.metrics import Metrics
from ingest.net import AddressPolicy, HttpClient
from ingest.roles import Resources, Role, RunSummary, role_for
from ingest.state import StateStore, open_state
from ingest.web import StatusServer
from ingest.workers import WorkerPool

log = logging.getLogger(__name__)

# The fork server imports these before it forks a worker (``ingest.stages.warmup`` warms them up).
WORKER_PRELOAD = ("ingest.source.parser", "ingest.stages.article", "ingest.stages.warmup")
_KAFKA_RETRY_MAX_S = 30.0
STATE_PROBE_S = 5.0


class Service:
    def __init__(self, settings: Settings, metrics: Metrics | None = None, role: Role | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.role = role or role_for(settings)  # decided once; reads the feed list
        self._publisher: Publisher | None = None
        self._state_up = True
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
        if not self._state_up:
            return False, "state store not answering"
        if self._status is not None and (failing := self._status.all_failing()):
            return False, f"all {failing} feeds failing"
        return True, "ok"

    async def run(self, *, once: bool, stop: asyncio.Event) -> RunSummary:
        """Run until done (``once``) or until ``stop`` is set. Raises ``FatalError``."""
        s = self.settings
        feeds = self.role.feeds
        topics = self.role.topics()
        if feeds is not None:
            self.metrics.feeds_configured.set(len(feeds))
            if not feeds:
                log.warning("no feeds configured (set 'feeds' or 'feeds_file')")
        self.metrics.topics(*topics)
        self.metrics.group_topics(s.kafka.links_topic, s.kafka.feeds_topic)
        self.metrics.ready.set_function(lambda: 1.0 if self._ready()[0] else 0.0)
        async with AsyncExitStack() as stack:
            bootstrap = s.kafka.bootstrap_servers
            if s.kafka.embedded:
                schemas = topic_schemas(s.kafka.topic, s.kafka.dlq_topic, s.kafka.latest_topic)
                broker = EmbeddedBroker(s.kafka.embedded_host, s.kafka.embedded_port, schemas)
                bootstrap = await asyncio.to_thread(broker.start)
                stack.callback(broker.stop)
            state = await open_state(s.state)
            stack.push_async_callback(state.close)
            await self._match_state_to_broker(state)
            status = StatusServer(self.metrics, self._ready, s.metrics.host, s.metrics.port)
            await status.start()
            stack.push_async_callback(status.stop)
            self._status = status
            publisher = Publisher(s.kafka, bootstrap, self.metrics)
            stack.push_async_callback(publisher.close)
            if not await self._connect_kafka(publisher, bootstrap, topics, once=once, stop=stop):
                self._stopping = True
                return RunSummary(Counter(), Counter())
            self._publisher = publisher
            status.broker = bootstrap
            status.broker_ok = lambda: publisher.healthy
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
            probe = asyncio.create_task(self._probe_state(state))
            stack.push_async_callback(_cancel, probe)
            archive = None
            if s.archive.dir is not None and self.role.feeds is not None:  # a live run: it fetches
                archive = Archive(
                    s.archive.dir,
                    self.metrics,
                    user_agent=s.http.user_agent,
                    max_file_bytes=s.archive.max_file_mb * 1024 * 1024,
                    max_file_age_s=s.archive.max_file_age_s,
                    queue_size=s.archive.queue,
                )
                await asyncio.to_thread(archive.start)
                stack.push_async_callback(asyncio.to_thread, archive.close)
                log.info(
                    "archiving every fetch%s in %s", " and feed" if s.archive.feeds else "", s.archive.dir
                )
            resources = Resources(
                s, bootstrap, state, http, workers, publisher, self.metrics, status, archive
            )
            self._running = True
            log.info(
                "ingest running (%s): topics %s, bootstrap %s, status on %s:%d",
                f"role {s.role}, {len(feeds)} feeds" if feeds is not None else "backfill",
                ", ".join(topics),
                bootstrap,
                s.metrics.host,
                status.port,
            )
            summary = await self.role.run(resources, once=once, stop=stop)
            self._stopping = True
            return summary
        raise AssertionError("unreachable")

    async def _match_state_to_broker(self, state: StateStore) -> None:
        """Say at start what outlives a restart. The embedded broker keeps its topics in memory: the
        state is started empty with it, or the articles it remembers as published would never be
        published again into the new, empty topic."""
        s = self.settings
        where = f"SQLite file {s.state.sqlite_path}" if s.state.backend == "sqlite" else "Redis"
        if s.kafka.embedded:
            await state.clear()
            log.warning(
                "kept across restarts: nothing. The embedded broker holds its topics in memory, so the "
                "state (%s) is started empty too, and the articles the feeds still list are published "
                "again; set kafka.bootstrap_servers to a Kafka cluster to keep both",
                where,
            )
        else:
            log.info(
                "kept across restarts: the state (%s: articles seen, feed validators and health) and "
                "the topics (on Kafka at %s)",
                where,
                s.kafka.bootstrap_servers,
            )

    async def _probe_state(self, state: StateStore) -> None:
        """Keep ``_state_up`` current: a store that stopped answering makes the service not ready
        (and says so once), one that answers again ready."""
        while True:
            try:
                await state.ping()
            except StateUnavailable as exc:
                if self._state_up:
                    log.warning("state store not answering (%s): not ready until it does", exc)
                self._state_up = False
            else:
                if not self._state_up:
                    log.info("state store answers again")
                self._state_up = True
            await asyncio.sleep(STATE_PROBE_S)

    async def _connect_kafka(
        self, publisher: Publisher, bootstrap: str, topics: dict[str, int], *, once: bool, stop: asyncio.Event
    ) -> bool:
        """Create topics and connect the producer. With ``once`` a broker that does not answer is
        fatal; otherwise the service waits for it (``/readyz`` false). False if stopped meanwhile."""
        kafka = self.settings.kafka
        delay = 1.0
        while not stop.is_set():
            try:
                await asyncio.to_thread(ensure_topics, kafka, bootstrap, topics)
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


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
