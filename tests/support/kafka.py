"""Reading topics back in tests: every partition from the start, until the topic stays idle.

The test broker's end offsets can understate the real end, so we read until nothing new arrives.
"""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def read_topic(bootstrap: str, topic: str, *, idle_s: float = 1.5, limit_s: float = 30.0) -> list[Any]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=200,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return []  # the topic does not exist (yet)
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        consumer.seek_to_beginning(*assignment)
        records: list[Any] = []
        deadline = time.monotonic() + limit_s
        last_new = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last_new < idle_s:
            batch = consumer.poll(timeout_ms=200)
            for messages in batch.values():
                records.extend(messages)
                last_new = time.monotonic()
        return records
    finally:
        consumer.close()


def wait_for_records(bootstrap: str, topic: str, count: int, *, limit_s: float = 60.0) -> list[Any]:
    """Read until at least ``count`` records are there; returns them all. Fails the test, saying
    how many there were, when the limit passes first: late and lost must not look alike."""
    deadline = time.monotonic() + limit_s
    records: list[Any] = []
    while time.monotonic() < deadline:
        records = read_topic(bootstrap, topic, idle_s=0.5, limit_s=10)
        if len(records) >= count:
            return records
        time.sleep(0.3)
    raise AssertionError(f"{len(records)} of {count} records on {topic} after {limit_s:.0f} s")
