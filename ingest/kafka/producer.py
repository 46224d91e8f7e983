"""The acknowledged producer: kafka-python behind an asyncio interface that returns only on ack.

Every send is awaited to its broker acknowledgement (``flush()`` alone does not report failed
records). The number of messages sent and not yet acknowledged is capped: callers wait for room
instead of growing memory without bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka import KafkaProducer
from kafka.errors import (
    AuthorizationError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
)
from kafka.record import util as record_util

from ingest.config import KafkaSettings
from ingest.errors import BrokerError, PublishTimeout, TooLarge, TransientError
from ingest.kafka.client import client_options
from ingest.metrics import Metrics

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


def crc32c_accelerated() -> bool:
    """kafka-python checksums records with the ``crc32c`` C extension when it is importable."""
    return getattr(record_util, "crc32c_c", None) is not None


class Publisher:
    """Sends messages and awaits their acknowledgement. Start with ``start()``, end with ``close()``."""

    def __init__(self, settings: KafkaSettings, bootstrap: str, metrics: Metrics) -> None:
        self._settings = settings
        self._bootstrap = bootstrap
        self._metrics = metrics
        self._producer: KafkaProducer | None = None
        self._room = asyncio.Semaphore(settings.max_in_flight_messages)
        self._healthy = True
        # kafka-python's send() can block (metadata, full buffer): keep it off the event loop.
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-send")

    async def start(self) -> None:
        if not crc32c_accelerated():
            log.warning(
                "the crc32c C extension is missing: kafka-python will checksum in pure Python, "
                "5-10x slower (pip install crc32c)"
            )
        s = self._settings
        options: dict[str, Any] = client_options(s, self._bootstrap) | {
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
        loop = asyncio.get_running_loop()
        try:
            self._producer = await loop.run_in_executor(self._sender, lambda: KafkaProducer(**options))
        except KafkaError as exc:
            raise BrokerError(f"no Kafka broker reachable at {self._bootstrap}: {exc}") from exc

    @property
    def healthy(self) -> bool:
        """Started, and the last send (if any) was acknowledged or failed for a message's own reason."""
        return self._producer is not None and self._healthy

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        """Send one message and return once Kafka acknowledged it.

        Raises ``TooLarge`` (permanent), ``PublishTimeout``/``TransientError`` (retry later) or
        ``BrokerError`` (authorisation: fatal).
        """
        producer = self._producer
        assert producer is not None, "Publisher.send() before start()"
        loop = asyncio.get_running_loop()
        async with self._room:
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
                    await asyncio.wait_for(acked, self._settings.delivery_timeout_s + 5)
                except TimeoutError as exc:
                    raise PublishTimeout(f"no acknowledgement from Kafka for {topic}") from exc
            except Exception as exc:
                self._metrics.kafka_publish.labels(topic, "failed").inc()
                error = _translate(exc, topic)
                self._healthy = not isinstance(error, TransientError | BrokerError)
                raise error from exc
            finally:
                self._metrics.kafka_in_flight.dec()
        self._healthy = True
        self._metrics.kafka_publish.labels(topic, "acked").inc()
        self._metrics.kafka_publish_latency.labels(topic).observe(time.monotonic() - started)

    async def close(self, timeout_s: float = 10.0) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._sender, lambda: producer.close(timeout=timeout_s))
        self._sender.shutdown(wait=False)


def _translate(exc: BaseException, topic: str) -> Exception:
    if isinstance(exc, PublishTimeout | TransientError | TooLarge | BrokerError):
        return exc
    if isinstance(exc, MessageSizeTooLargeError):
        return TooLarge(f"message too large for {topic}: {exc}")
    if isinstance(exc, AuthorizationError):
        return BrokerError(f"not authorised to write to {topic}: {exc}")
    if isinstance(exc, KafkaTimeoutError):
        return PublishTimeout(f"Kafka timed out on {topic}: {exc}")
    return TransientError(f"publish to {topic} failed: {type(exc).__name__}: {exc}")
