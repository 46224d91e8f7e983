"""Keep a table of the current version of every article, from the compacted latest topic.

    pip install kafka-python
    python examples/latest_table.py --bootstrap 127.0.0.1:9092 --topic news.articles.latest \
        --db articles.db

The latest topic (``kafka.latest_topic``) is compacted: Kafka keeps at least the last message of
each key (the article ``id``), so reading it from the beginning gives every article's latest
version, and reading on keeps the table current. A message with a null value (a tombstone) means
the article is gone: its row is deleted.

The table and the offset each partition has been applied up to are written in one SQLite
transaction, so a restart resumes exactly where the table is: no message applied twice, none
skipped, without committing offsets to Kafka. Messages whose CloudEvents header ``ce_dataschema``
names a schema this program does not know are counted and skipped.

``--idle-exit S`` stops after S seconds without messages (for scripts and tests). Prints a summary
line as JSON on exit.
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition

KNOWN_SCHEMAS = {"https://ingest.example/schemas/article.v1.json"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT,
    title TEXT,
    published_at TEXT,
    fetched_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    event_id TEXT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applied (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""

APPLIED = (
    "INSERT INTO applied (topic, partition, next_offset) VALUES (?, ?, ?)"
    " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset"
)


def apply(db: sqlite3.Connection, record: Any, counts: dict[str, int]) -> None:
    """One message into the table (inside the caller's transaction)."""
    key = record.key.decode("utf-8")
    if record.value is None:
        counts["deleted"] += db.execute("DELETE FROM articles WHERE id = ?", (key,)).rowcount
        return
    headers = {name: value.decode("utf-8", "replace") for name, value in record.headers}
    if headers.get("ce_dataschema", next(iter(KNOWN_SCHEMAS))) not in KNOWN_SCHEMAS:
        counts["other_schema"] += 1
        return
    article = json.loads(record.value)
    db.execute(
        "INSERT INTO articles (id, url, title, published_at, fetched_at, content_hash, event_id, body)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET url = excluded.url, title = excluded.title,"
        " published_at = excluded.published_at, fetched_at = excluded.fetched_at,"
        " content_hash = excluded.content_hash, event_id = excluded.event_id, body = excluded.body",
        (
            article["id"],
            article.get("canonical_url") or article.get("url"),
            article.get("title"),
            article.get("published_at"),
            article["fetched_at"],
            article["content_hash"],
            headers.get("ce_id"),
            article["body"],
        ),
    )
    counts["upserted"] += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="news.articles.latest")
    parser.add_argument("--db", default="articles.db")
    parser.add_argument("--idle-exit", type=float, default=None, help="stop after S idle seconds")
    args = parser.parse_args()

    db = sqlite3.connect(args.db)
    db.executescript(SCHEMA)
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap.split(","), enable_auto_commit=False)
    partitions = consumer.partitions_for_topic(args.topic)
    if not partitions:
        print(f"no topic {args.topic} at {args.bootstrap}", file=sys.stderr)
        return 1
    assigned = [TopicPartition(args.topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    applied = dict(db.execute("SELECT partition, next_offset FROM applied WHERE topic = ?", (args.topic,)))
    for tp in assigned:
        if tp.partition in applied:
            consumer.seek(tp, applied[tp.partition])
        else:
            consumer.seek_to_beginning(tp)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    counts = {"upserted": 0, "deleted": 0, "other_schema": 0}
    for tp in assigned:
        consumer.position(tp)  # where each partition starts is known before the idle clock runs
    last_message = time.monotonic()
    try:
        while not stopping:
            batch = consumer.poll(timeout_ms=500)
            if batch:
                with db:  # the rows and the offsets they were applied up to, in one transaction
                    for tp, records in batch.items():
                        for record in records:
                            apply(db, record, counts)
                        db.execute(APPLIED, (tp.topic, tp.partition, records[-1].offset + 1))
                last_message = time.monotonic()
            elif args.idle_exit is not None and time.monotonic() - last_message >= args.idle_exit:
                break
    finally:
        consumer.close()
    counts["rows"] = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    db.close()
    print(json.dumps(counts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
