"""The example consumer of the latest topic: a table of the current version of each article, kept
from the compacted topic, rows deleted on tombstones, resumed exactly where it stopped."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from ingest.config import KafkaSettings
from ingest.kafka.admin import ensure_topics
from ingest.kafka.producer import Publisher
from ingest.metrics import Metrics
from ingest.stages.publish import Sink
from tests.support.examples import run_example
from tests.unit.factories import make_article, words


def _table(bootstrap: str, topic: str, db: Path) -> dict[str, Any]:
    _, summary = run_example(
        "latest_table.py", "--bootstrap", bootstrap, "--topic", topic, "--db", str(db), "--idle-exit", "4"
    )
    return summary


async def _publish(bootstrap: str, sink_topics: tuple[str, str, str], articles: list[Any]) -> None:
    topic, dlq, latest = sink_topics
    publisher = Publisher(KafkaSettings(bootstrap_servers=bootstrap), bootstrap, Metrics())
    await publisher.start()
    try:
        sink = Sink(publisher, topic, dlq, latest_topic=latest)
        for article in articles:
            await sink.publish(article)
    finally:
        await publisher.close()


def test_the_table_follows_the_latest_versions_and_tombstones(broker: str, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = (f"articles-{suffix}", f"articles-{suffix}.dlq", f"latest-{suffix}")
    settings = KafkaSettings(bootstrap_servers=broker, latest_topic=topics[2])
    ensure_topics(settings, broker, dict.fromkeys(topics, 2))
    links = [f"https://news.example.org/{suffix}/{n}" for n in range(3)]
    first = [make_article(words(80, seed=f"v1-{n}"), link=link) for n, link in enumerate(links)]
    asyncio.run(_publish(broker, topics, first))
    db = tmp_path / "articles.db"
    assert _table(broker, topics[2], db) == {"upserted": 3, "deleted": 0, "other_schema": 0, "rows": 3}

    # A new version of one article, and another withdrawn (a tombstone): applied on the next run,
    # which starts where the last one ended (nothing applied twice).
    second = make_article(words(80, seed="v2-0"), link=links[0])
    asyncio.run(_publish(broker, topics, [second]))
    producer = KafkaProducer(bootstrap_servers=broker)
    producer.send(topics[2], key=first[1].id.encode(), value=None).get(timeout=30)
    producer.close()
    assert _table(broker, topics[2], db) == {"upserted": 1, "deleted": 1, "other_schema": 0, "rows": 2}

    with sqlite3.connect(db) as table:
        rows = dict(table.execute("SELECT id, content_hash FROM articles"))
    assert rows == {second.id: second.content_hash, first[2].id: first[2].content_hash}
    assert _table(broker, topics[2], db)["upserted"] == 0
