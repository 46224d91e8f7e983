"""An in-memory stand-in for the acknowledged producer, honouring the same contract (see
tests/integration/test_sink_contract.py, which runs against both): a send returns once the message
is "acknowledged", an oversized message is ``TooLarge``, an unavailable broker a ``TransientError``."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from ingest.errors import PublishTimeout, TooLarge
from ingest.kafka.producer import Headers


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes
    value: bytes
    headers: Headers


class MemorySender:
    def __init__(self, max_request_size: int = 1_048_576) -> None:
        self.max_request_size = max_request_size
        self.topics: dict[str, list[Message]] = defaultdict(list)
        self.available = True  # False: every send fails as a broker that does not answer
        self.sent = asyncio.Event()

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        await asyncio.sleep(0)  # an acknowledgement is never immediate
        if not self.available:
            raise PublishTimeout(f"no acknowledgement from Kafka for {topic}")
        size = len(key) + len(value) + sum(len(k) + len(v) for k, v in headers)
        if size > self.max_request_size:
            raise TooLarge(f"message too large for {topic}: {size} bytes")
        self.topics[topic].append(Message(topic, key, value, list(headers)))
        self.sent.set()

    def values(self, topic: str) -> list[bytes]:
        return [m.value for m in self.topics.get(topic, [])]
