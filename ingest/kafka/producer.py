"""The acknowledged producer: kafka-python behind an asyncio interface that returns only on ack.

Every send is awaited to its broker acknowledgement (``flush()`` alone does not report failed
records). The number of messages sent and not yet acknowledged is capped: callers wait for room
instead of growing memory without bound.

When a send fails for a transient reason (broker paused, gone, partitioned), the producer is
replaced: a new one is connected in the background, with backoff, until the broker answers again.
Meanwhile ``healthy`` is false, sends wait (up to the delivery timeout) and nothing is acknowledged,
so nothing advances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka import KafkaProducer
from kafka.errors import (
    AuthorizationError,
    InvalidRecordError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
)
from kafka.record import util as record_util

from ingest.config import KafkaSettings
from ingest.errors import (
    BrokerError,
    BrokerUnavailable,
    PublishTimeout,
    RecordRefused,
    TooLarge,
    TransientError,
)
from ingest.kafka.client import client_options
from ingest.metrics import Metrics

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
_RECONNECT_MAX_S = 30.0
_CLOSE_STALE_S = 1.0


def crc32c_accelerated() -> bool:
    """kafka-python checksums records with the ``crc32c`` C extension when it is importable."""
    return getattr(record_util, "crc32c_c", None) is not None


class Publisher:
    """Sends messages and awaits their acknowledgement. ``start()`` first, ``close()`` last."""

    def __init__(self, settings: KafkaSettings, bootstrap: str, metrics: Metrics) -> None:
        self._settings = settings
        self._bootstrap = bootstrap
        self._metrics = metrics
        self._producer: KafkaProducer | None = None
        self._connected = asyncio.Event()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False
        self._room = asyncio.Semaphore(settings.max_in_flight_messages)
        # A message refused once is sent again alone (see send()): while it is, no other send starts.
        self._open = asyncio.Event()
        self._open.set()
        self._alone = asyncio.Lock()
        self._sending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # kafka-python's send() can block (metadata, full buffer): keep it off the event loop.
        self._sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kafka-send")

    def _options(self) -> dict[str, Any]:
        s = self._settings
        return client_options(s, self._bootstrap) | {
            "acks": "all",
            "enable_idempotence": True,
            "compression_type": None if s.compression_type == "none" else s.compression_type,
            "linger_ms": s.linger_ms,
            "max_in_flight_requests_per_connection": 5,
            "delivery_timeout_ms": int(s.delivery_timeout_s * 1000),
            "max_request_size": s.max_request_size,
            "max_block_ms": int(s.connect_timeout_s * 1000),
            "allow_auto_create_topics": False,
        }

    async def start(self) -> None:
        """Connect once. Raises ``BrokerUnavailable`` when no broker answers."""
        if not crc32c_accelerated():
            log.warning(
                "the crc32c C extension is missing: kafka-python will checksum in pure Python, "
                "5-10x slower (pip install crc32c)"
            )
        await self._connect()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        options = self._options()
        try:
            producer = await loop.run_in_executor(self._sender, lambda: KafkaProducer(**options))
        except KafkaError as exc:
            raise BrokerUnavailable(f"no Kafka broker reachable at {self._bootstrap}: {exc}") from exc
        if self._closed:
            _close_quietly(producer, 0)
            return
        self._producer = producer
        self._connected.set()

    async def _reconnect(self) -> None:
        delay = 1.0
        while not self._closed:
            try:
                await self._connect()
                log.info("Kafka reachable again at %s", self._bootstrap)
                return
            except BrokerUnavailable as exc:
                log.debug("still no Kafka at %s: %s", self._bootstrap, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RECONNECT_MAX_S)

    def _replace(self, producer: KafkaProducer, why: str) -> None:
        """``producer`` cannot go on (the broker stopped acknowledging it, or it refused a record):
        drop it and connect a new one."""
        if producer is not self._producer or self._closed:
            return  # already being replaced
        log.warning("%s; pausing and reconnecting to %s", why, self._bootstrap)
        self._producer = None
        self._connected.clear()
        self._metrics.kafka_reconnects.inc()
        # A stale producer can hang on close: end it on a thread of its own, bounded.
        threading.Thread(
            target=_close_quietly, args=(producer, _CLOSE_STALE_S), daemon=True, name="kafka-close"
        ).start()
        self._reconnecting = asyncio.create_task(self._reconnect())

    @property
    def healthy(self) -> bool:
        """Connected, and not in the middle of replacing a producer the broker stopped answering."""
        return self._producer is not None and self._connected.is_set()

    async def _current(self, timeout_s: float) -> KafkaProducer:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError as exc:
            raise PublishTimeout(f"Kafka at {self._bootstrap} unavailable") from exc
        assert self._producer is not None
        return self._producer

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        """Send one message and return once Kafka acknowledged it.

        Raises ``TooLarge`` or ``RecordRefused`` (permanent), ``PublishTimeout``/``TransientError``
        (retry later) or ``BrokerError`` (authorisation: fatal).

        The broker refuses a whole batch for one invalid record in it, and kafka-python's idempotent
        producer then fails every message after it: a refused message may be innocent. It is sent
        again alone (no other send in flight, a new producer), and only a message refused alone is
        ``RecordRefused``.
        """
        async with self._room:
            await self._open.wait()
            self._sending += 1  # from here, a message sent alone waits for this one to end
            self._idle.clear()
            try:
                await self._send_once(topic, key, value, headers)
                return
            except RecordRefused:
                pass
            finally:
                self._sending -= 1
                if not self._sending:
                    self._idle.set()
            async with self._alone:
                self._open.clear()
                try:
                    await self._idle.wait()
                    await self._send_once(topic, key, value, headers)
                finally:
                    self._open.set()

    async def _send_once(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        loop = asyncio.get_running_loop()
        deadline = self._settings.delivery_timeout_s + 5
        producer = await self._current(deadline)
        self._metrics.kafka_in_flight.inc()
        started = time.monotonic()
        try:
            acked: asyncio.Future[Any] = loop.create_future()

            def settle(result: Any, failed: bool) -> None:
                if not acked.done():
                    (acked.set_exception if failed else acked.set_result)(result)

            def submit() -> None:
                future = producer.send(topic, key=key, value=value, headers=headers)
                future.add_callback(lambda md: loop.call_soon_threadsafe(settle, md, False))
                future.add_errback(lambda exc: loop.call_soon_threadsafe(settle, exc, True))

            try:
                await loop.run_in_executor(self._sender, submit)
                await asyncio.wait_for(acked, deadline)
            except TimeoutError as exc:
                raise PublishTimeout(f"no acknowledgement from Kafka for {topic}") from exc
        except Exception as exc:
            self._metrics.kafka_publish.labels(topic, "failed").inc()
            error = _translate(exc, topic)
            if isinstance(error, TransientError):
                self._replace(producer, "Kafka stopped acknowledging")
            elif isinstance(error, RecordRefused):
                self._replace(producer, f"Kafka refused a record to {topic} as invalid")
            raise error from exc
        finally:
            self._metrics.kafka_in_flight.dec()
        self._metrics.kafka_publish.labels(topic, "acked").inc()
        self._metrics.kafka_publish_latency.labels(topic).observe(time.monotonic() - started)

    async def close(self, timeout_s: float = 10.0) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        producer, self._producer = self._producer, None
        if producer is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._sender, _close_quietly, producer, timeout_s)
        self._sender.shutdown(wait=False)


def _close_quietly(producer: KafkaProducer, timeout_s: float) -> None:
    try:
        producer.close(timeout=timeout_s)
    except Exception as exc:  # a producer whose broker vanished fails to flush
        log.debug("closing a Kafka producer: %s", exc)
        # kafka-python's close() raises when its flush times out and leaves its sender thread
        # running: force that closed, so the thread ends and __del__ does not try again.
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
        producer._closed = True


def _translate(exc: BaseException, topic: str) -> Exception:
    if isinstance(exc, PublishTimeout | TransientError | TooLarge | RecordRefused | BrokerError):
        return exc
    if isinstance(exc, MessageSizeTooLargeError):
        return TooLarge(f"message too large for {topic}: {exc}")
    if isinstance(exc, InvalidRecordError):
        return RecordRefused(f"the broker refused the message to {topic} as invalid: {exc}")
    if isinstance(exc, AuthorizationError):
        return BrokerError(f"not authorised to write to {topic}: {exc}")
    if isinstance(exc, KafkaTimeoutError):
        return PublishTimeout(f"Kafka timed out on {topic}: {exc}")
    return TransientError(f"publish to {topic} failed: {type(exc).__name__}: {exc}")
