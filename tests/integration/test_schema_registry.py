"""The broker itself checks what reaches the articles and dead-letter topics against the committed
schemas (the embedded broker's registry): valid messages are acknowledged, a message that breaks
its schema is refused as ``RecordRefused`` and never stored, and the messages sent beside it are
not taken down with it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from ingest.config import KafkaSettings
from ingest.errors import NoContent, PermanentError, RecordRefused
from ingest.kafka.admin import ensure_topics
from ingest.kafka.embedded import EmbeddedBroker
from ingest.kafka.producer import Publisher
from ingest.kafka.registry import topic_schemas
from ingest.metrics import Metrics
from ingest.stages.publish import _json, article_message, dead_letter
from tests.support.kafka import read_topic
from tests.unit.factories import make_article, make_entry, words

ARTICLES, DLQ = "checked.articles", "checked.articles.dlq"


@pytest.fixture(scope="module")
def checking_broker() -> Iterator[str]:
    broker = EmbeddedBroker("127.0.0.1", 0, topic_schemas(ARTICLES, DLQ))
    try:
        bootstrap = broker.start()
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), bootstrap, {ARTICLES: 1, DLQ: 1, "free": 1})
        yield bootstrap
    finally:
        broker.stop()


@pytest.fixture
async def publisher(checking_broker: str) -> AsyncIterator[Publisher]:
    settings = KafkaSettings(bootstrap_servers=checking_broker, delivery_timeout_s=20, connect_timeout_s=10)
    publisher = Publisher(settings, checking_broker, Metrics())
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.close()


Message = tuple[bytes, bytes, list[tuple[str, bytes]]]


def _article(seed: str) -> Message:
    return article_message(make_article(words(120, seed=seed), link=f"https://news.example.org/{seed}"))


def _broken(message: Message) -> Message:
    key, value, headers = message
    return key, json.dumps({**json.loads(value), "word_count": "many"}).encode(), headers


async def test_the_broker_refuses_what_breaks_the_schema_and_keeps_what_follows_it(
    publisher: Publisher, checking_broker: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    good = _article(f"good-{tag}")
    await publisher.send(ARTICLES, *good)
    with pytest.raises(RecordRefused) as refused:
        await publisher.send(ARTICLES, *_broken(_article(f"bad-{tag}")))
    assert isinstance(refused.value, PermanentError)  # dead-lettered, never retried forever
    after = _article(f"after-{tag}")
    await publisher.send(ARTICLES, *after)  # the producer goes on after a refusal

    letter = _json(dead_letter(make_entry(), NoContent("no text"), "extract"))
    await publisher.send(DLQ, b"k", letter, [])
    with pytest.raises(RecordRefused):
        await publisher.send(DLQ, b"k", b'{"reason": 1}', [])
    await publisher.send("free", b"k", b"not json at all", [])  # a topic with no schema: unchecked

    stored = [r.value for r in read_topic(checking_broker, ARTICLES)]
    assert good[1] in stored
    assert after[1] in stored
    assert not any(b'"many"' in value for value in stored)
    assert [r.value for r in read_topic(checking_broker, DLQ)][-1] == letter


async def test_messages_in_flight_beside_a_refused_one_are_all_acknowledged(
    publisher: Publisher, checking_broker: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    good = [_article(f"beside-{tag}-{n}") for n in range(30)]
    sends = [publisher.send(ARTICLES, *m) for m in good[:15]]
    sends.append(publisher.send(ARTICLES, *_broken(_article(f"bad-{tag}"))))
    sends += [publisher.send(ARTICLES, *m) for m in good[15:]]
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert isinstance(results[15], RecordRefused)
    assert [r for n, r in enumerate(results) if n != 15] == [None] * 30
    stored = {r.value for r in read_topic(checking_broker, ARTICLES)}
    assert {value for _, value, _ in good} <= stored
