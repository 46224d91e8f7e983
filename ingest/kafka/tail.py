"""``ingest tail``: read articles back from a topic, for people (readable) or for pipes (JSON lines).

Reads without a consumer group (partitions assigned directly, nothing committed), so tailing never
disturbs the consumers of the topic. Without ``follow`` it stops once the topic has stayed idle for
``idle_s`` after the end offsets were reached: some Kafka-protocol brokers understate end offsets,
so an empty read, not the offset alone, marks the end.
"""

from __future__ import annotations

import contextlib
import json
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from ingest.config import KafkaSettings
from ingest.errors import ConfigError, TransientError
from ingest.kafka.client import client_options
from ingest.times import rfc3339

POLL_MS = 500
FIRST_LINES = 2
WIDTH = 100


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes | None


def bootstrap_for(settings: KafkaSettings) -> str:
    """Where a running service's broker is: the configured servers, or its embedded broker."""
    if settings.embedded:
        return f"{settings.embedded_host}:{settings.embedded_port}"
    return settings.bootstrap_servers


WAIT_NOTICE_S = 1.0  # a broker slower than this to answer is said to be waited for


@contextlib.contextmanager
def _saying_after(seconds: float, message: str, notice: Callable[[str], None] | None) -> Iterator[None]:
    """Run the block; if it takes longer than ``seconds``, tell ``notice`` ``message`` (once)."""
    if notice is None:
        yield
        return
    timer = threading.Timer(seconds, notice, args=(message,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _consumer(settings: KafkaSettings, bootstrap: str) -> KafkaConsumer:
    try:
        return KafkaConsumer(
            **client_options(settings, bootstrap),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            allow_auto_create_topics=False,  # reading a mistyped topic must not create it
        )
    except KafkaError as exc:
        hint = (
            " (kafka.bootstrap_servers is 'embedded': tail reads the broker of a running service; "
            "is it running?)"
            if settings.embedded
            else ""
        )
        raise TransientError(
            f"cannot reach Kafka at {bootstrap} in {settings.connect_timeout_s:g} s: {exc}{hint}"
        ) from exc


def _partitions(consumer: KafkaConsumer, topic: str, wait_s: float) -> list[TopicPartition]:
    deadline = time.monotonic() + wait_s
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() >= deadline:
            raise ConfigError(f"topic {topic!r} does not exist (or the broker does not list it)")
        time.sleep(0.2)


def read(
    settings: KafkaSettings,
    bootstrap: str,
    topic: str,
    *,
    last: int | None,
    follow: bool,
    idle_s: float = 2.0,
    notice: Callable[[str], None] | None = None,
) -> Iterator[Record]:
    """The topic's records: the last ``last`` of them in time order (all of them when None), then,
    with ``follow``, every new one as it arrives, until the caller stops iterating (or Ctrl-C).
    ``notice`` hears what it waits for, when the broker is slow to answer."""
    with _saying_after(
        WAIT_NOTICE_S,
        f"ingest: waiting for Kafka at {bootstrap} (up to {settings.connect_timeout_s:g} s, "
        "kafka.connect_timeout_s)",
        notice,
    ):
        consumer = _consumer(settings, bootstrap)
    try:
        partitions = _partitions(consumer, topic, wait_s=settings.connect_timeout_s)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        if last is not None:
            ends = consumer.end_offsets(partitions)
            for tp in partitions:
                consumer.seek(tp, max(0, ends[tp] - last))
        backlog = list(_until_idle(consumer, partitions, idle_s))
        backlog.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
        yield from backlog if last is None else backlog[max(0, len(backlog) - last) :]
        while follow:
            yield from _batch(consumer)
    finally:
        consumer.close()


def _batch(consumer: KafkaConsumer) -> list[Record]:
    try:
        polled = consumer.poll(timeout_ms=POLL_MS)
    except KafkaError as exc:
        raise TransientError(f"reading from Kafka failed: {exc}") from exc
    records = [
        Record(m.partition, m.offset, m.timestamp, m.value) for batch in polled.values() for m in batch
    ]
    records.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
    return records


def _until_idle(consumer: KafkaConsumer, partitions: list[TopicPartition], idle_s: float) -> Iterator[Record]:
    quiet_since = time.monotonic()
    while True:
        records = _batch(consumer)
        yield from records
        now = time.monotonic()
        if records:
            quiet_since = now
            continue
        ends = consumer.end_offsets(partitions)
        if all(consumer.position(tp) >= ends[tp] for tp in partitions) and now - quiet_since >= idle_s:
            return


def as_json_line(record: Record) -> str:
    """The record's value as one line (re-serialised compactly when it is JSON)."""
    raw = (record.value or b"").decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        return json.dumps({"partition": record.partition, "offset": record.offset, "undecodable": raw[:200]})


def readable(record: Record) -> str:
    """Title, source, time, language and the first lines of the body, for a person to skim."""
    try:
        article: dict[str, Any] = json.loads(record.value or b"")
    except ValueError:
        return f"[partition {record.partition} offset {record.offset}: not JSON]\n"
    if not isinstance(article, dict):
        return f"[partition {record.partition} offset {record.offset}: not an article]\n"
    source = article.get("source")
    source = source if isinstance(source, dict) else {}
    site = source.get("site_name") or source.get("feed_title") or source.get("domain") or "?"
    stated = article.get("published_at") or article.get("published_date")
    acked = rfc3339(record.timestamp_ms / 1000)
    facts = [f"published {stated}" if stated else "no publication time", f"sent {acked}"]
    if article.get("language"):
        facts.append(str(article["language"]))
    if article.get("word_count") is not None:
        facts.append(f"{article['word_count']} words")
    if article.get("duplicate_of"):
        facts.append(f"near-duplicate of {article['duplicate_of']}")
    paragraphs = [p for p in str(article.get("body") or "").split("\n\n") if p.strip()]
    lines = [line for p in paragraphs[:FIRST_LINES] for line in textwrap.wrap(p, WIDTH)][:FIRST_LINES]
    if len(lines) == FIRST_LINES and sum(len(p) for p in paragraphs) > sum(len(x) for x in lines):
        lines[-1] = lines[-1] + " …"
    body = "".join(f"    {line}\n" for line in lines)
    return (
        f"{article.get('title') or '(untitled)'}\n"
        f"  {site} · {' · '.join(facts)}\n"
        f"  {article.get('url') or article.get('canonical_url') or ''}\n"
        f"{body}"
    )
