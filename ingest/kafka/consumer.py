"""A consumer-group member behind an asyncio interface (roles poller and worker).

kafka-python's consumer is not thread-safe, so one thread owns it: that thread polls without pause
(the group's rebalances need it), hands records to the event loop, pauses fetching while the loop
has too much in hand, and commits the offsets the loop says are done. Assignments are reported to
the loop as they happen; a revocation waits (up to ``consumer.revoke_wait_s``) for the loop to let
go of what it held, so no two members work on one partition's feeds at once.

Offsets are committed only as the loop marks records done (``commit``), never automatically. A
commit that fails is counted and tried again at the next turn (a rebalance in progress ends); once
the partition moved to another member it is left out, and the new owner reads those records again,
which is at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from ingest.config import KafkaSettings
from ingest.errors import BrokerUnavailable
from ingest.kafka.client import client_options
from ingest.metrics import Metrics

log = logging.getLogger(__name__)

Partitions = frozenset[int]
# Called on the event loop with the partitions held after a rebalance, and the topic's count.
OnAssigned = Callable[[Partitions, int], Coroutine[Any, Any, None]]
# Called on the event loop with the partitions taken away; returns once their work is let go.
OnRevoked = Callable[[Partitions], Coroutine[Any, Any, None]]
_POLL_MS = 200


async def _nothing(*_: object) -> None:
    return None


class GroupMember:
    """``start()`` joins the group, ``close()`` leaves it (after a last commit)."""

    def __init__(
        self,
        settings: KafkaSettings,
        bootstrap: str,
        *,
        topic: str,
        group_id: str,
        metrics: Metrics,
        fetch: bool,
        on_assigned: OnAssigned = _nothing,
        on_revoked: OnRevoked = _nothing,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self._settings = settings
        self._bootstrap = bootstrap
        self.topic = topic
        self._group_id = group_id
        self._metrics = metrics
        self._fetch = fetch  # a worker reads records; a poller only holds partitions
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._to_commit: dict[int, int] = {}
        self._records: asyncio.Queue[list[Any]] = asyncio.Queue()
        # Asked at every turn of the thread: stop fetching (heartbeats and rebalances go on).
        self._paused = paused
        self.partitions: Partitions = frozenset()
        self.partition_count = 0
        self._failure: BaseException | None = None

    async def start(self) -> None:
        """Connect and subscribe. Raises ``BrokerUnavailable`` when the broker does not answer."""
        self._loop = asyncio.get_running_loop()
        consumer = await asyncio.to_thread(self._connect)
        self._thread = threading.Thread(
            target=self._run, args=(consumer,), name=f"group-{self.topic}", daemon=True
        )
        self._thread.start()

    def _connect(self) -> KafkaConsumer:
        c = self._settings.consumer
        try:
            consumer = KafkaConsumer(
                **client_options(self._settings, self._bootstrap),
                group_id=self._group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=c.max_poll_records,
                max_poll_interval_ms=self._settings.max_poll_interval_ms,
                session_timeout_ms=c.session_timeout_ms,
                heartbeat_interval_ms=c.heartbeat_interval_ms,
                # Sticky: a rebalance moves only the partitions it must (range, the fallback, is
                # what every client supports).
                partition_assignment_strategy=(StickyPartitionAssignor, RangePartitionAssignor),
            )
            self.partition_count = len(consumer.partitions_for_topic(self.topic) or ())
            consumer.subscribe([self.topic], listener=_Listener(self))
        except KafkaError as exc:
            raise BrokerUnavailable(
                f"cannot join consumer group {self._group_id} at {self._bootstrap}: {exc}"
            ) from exc
        return consumer

    # -- the loop's side ----------------------------------------------------------------------------

    async def records(self) -> list[Any]:
        """The next batch of records (a worker's). Raises what stopped the consumer thread."""
        batch = await self._records.get()
        self.check()
        return batch

    def check(self) -> None:
        """Raise ``BrokerUnavailable`` if the consumer thread died: this member no longer knows what
        it holds, so it must stop rather than go on with a stale share."""
        if self._failure is not None:
            raise BrokerUnavailable(f"consumer of {self.topic} stopped: {self._failure}") from self._failure

    def commit(self, offsets: dict[int, int]) -> None:
        """Commit these next-to-read offsets (by partition) at the thread's next turn."""
        with self._lock:
            self._to_commit.update(offsets)

    async def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)

    # -- the consumer thread ------------------------------------------------------------------------

    def _run(self, consumer: KafkaConsumer) -> None:
        paused = False
        last_commit = time.monotonic()
        try:
            while not self._closing.is_set():
                held = consumer.assignment()
                if self._paused() and held:
                    consumer.pause(*held)
                    paused = True
                elif paused:
                    consumer.resume(*consumer.paused())
                    paused = False
                batch = consumer.poll(
                    timeout_ms=_POLL_MS, max_records=self._settings.consumer.max_poll_records
                )
                if self._fetch and batch:
                    records = [r for rs in batch.values() for r in rs]
                    self._hand(records)
                if time.monotonic() - last_commit >= self._settings.consumer.commit_interval_s:
                    self._commit(consumer)
                    last_commit = time.monotonic()
            self._commit(consumer)
        except Exception as exc:  # the consumer is unusable: tell the loop, which stops the service
            log.exception("consumer of %s failed", self.topic)
            self._failure = exc
            self._hand([])
        finally:
            try:
                consumer.close(autocommit=False)
            except Exception:  # closing a broken consumer: nothing more to save
                log.debug("closing the consumer of %s failed", self.topic, exc_info=True)

    def _hand(self, records: list[Any]) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed under us: the service is gone
            self._loop.call_soon_threadsafe(self._records.put_nowait, records)

    def _commit(self, consumer: KafkaConsumer) -> None:
        with self._lock:
            pending, self._to_commit = self._to_commit, {}
        held = {tp.partition for tp in consumer.assignment()}
        offsets = {
            TopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1)
            for p, o in pending.items()
            if p in held
        }
        if not offsets:
            return
        try:
            consumer.commit(offsets)
            self._metrics.offset_commits.labels("ok").inc()
        except KafkaError as exc:
            # Tried again at the next turn (a rebalance in progress ends), unless a newer offset is
            # due by then; a partition moved to another member meanwhile is left out then, and its
            # new owner reads those links again.
            self._metrics.offset_commits.labels("failed").inc()
            log.warning("offset commit on %s failed (%s); trying again", self.topic, exc)
            with self._lock:
                for tp, committed in offsets.items():
                    self._to_commit.setdefault(tp.partition, committed.offset)

    def _call_loop(self, call: Coroutine[Any, Any, None]) -> None:
        """Run a loop-side callback from the consumer's IO thread and wait for it, boundedly."""
        assert self._loop is not None
        wait = self._settings.consumer.revoke_wait_s + 1.0
        try:
            asyncio.run_coroutine_threadsafe(call, self._loop).result(wait)
        except FutureTimeout:
            log.warning("rebalance of %s: the service took longer than %.0fs to let go", self.topic, wait)
        except RuntimeError:  # the loop is closing
            call.close()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, member: GroupMember) -> None:
        self._member = member

    def on_partitions_revoked(self, revoked: Any) -> None:
        m = self._member
        gone = frozenset(tp.partition for tp in revoked if tp.topic == m.topic)
        m.partitions = m.partitions - gone
        if gone:
            m._call_loop(m._on_revoked(gone))

    def on_partitions_assigned(self, assigned: Any) -> None:
        m = self._member
        m.partitions |= frozenset(tp.partition for tp in assigned if tp.topic == m.topic)
        m._metrics.partitions_assigned.labels(m.topic).set(len(m.partitions))
        m._metrics.rebalances.labels(m.topic).inc()
        log.info("%s: holding partitions %s of %s", m._group_id, sorted(m.partitions), m.topic)
        m._call_loop(m._on_assigned(m.partitions, m.partition_count))
