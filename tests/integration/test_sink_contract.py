"""The publisher contract, run against every sender the sink can have: the acknowledged producer on a
real Kafka-protocol broker, and the in-memory stand-in the unit tests use. What one promises, the
other must keep, or the unit tests prove nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator

from ingest.config import KafkaSettings
from ingest.errors import NoContent, PermanentError, TooLarge
from ingest.kafka.admin import ensure_topics
from ingest.kafka.producer import Publisher
from ingest.metrics import Metrics
from ingest.models import DeadLetter, FeedEntry
from ingest.source.links import decode_link
from ingest.stages.publish import Sender, Sink, dead_letter
from tests.support.kafka import read_topic
from tests.support.memory import MemorySender
from tests.unit.factories import make_article, make_entry, words

MAX_REQUEST = 64 * 1024
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@dataclass
class Under:
    """A sender, and how to read back what it sent: (key, value, headers) per message, in order."""

    sender: Sender
    read: Callable[[str], list[tuple[bytes, bytes, dict[str, bytes]]]]


@pytest.fixture(params=["memory", "kafka"])
async def under(request: pytest.FixtureRequest) -> AsyncIterator[Under]:
    if request.param == "memory":
        memory = MemorySender(max_request_size=MAX_REQUEST)

        def read_memory(topic: str) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
            return [(m.key, m.value, dict(m.headers)) for m in memory.topics.get(topic, [])]

        yield Under(memory, read_memory)
        return
    bootstrap = request.getfixturevalue("broker")
    settings = KafkaSettings(
        bootstrap_servers=bootstrap, max_request_size=MAX_REQUEST, delivery_timeout_s=20, connect_timeout_s=10
    )
    publisher = Publisher(settings, bootstrap, Metrics())
    await publisher.start()

    def read_kafka(topic: str) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
        return [(r.key, r.value, dict(r.headers)) for r in read_topic(bootstrap, topic)]

    try:
        yield Under(publisher, read_kafka)
    finally:
        await publisher.close()


@pytest.fixture
def topics(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    suffix = uuid.uuid4().hex[:8]
    names = (f"articles-{suffix}", f"articles-{suffix}.dlq", f"links-{suffix}")
    if "kafka" in request.node.callspec.id:
        bootstrap = request.getfixturevalue("broker")
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), bootstrap, dict.fromkeys(names, 1))
    return names


async def test_an_article_is_keyed_by_its_id_with_versioned_json(
    under: Under, topics: tuple[str, ...]
) -> None:
    articles, dlq, links = topics
    sink = Sink(under.sender, articles, dlq, links)
    article = make_article(words(200))
    await sink.publish(article)
    ((key, value, headers),) = under.read(articles)
    assert key == article.id.encode()
    assert json.loads(value)["id"] == article.id
    assert headers["message-type"] == b"article"
    assert headers["schema-version"] == b"1"
    assert headers["content-type"] == b"application/json"


def _no_content(entry: FeedEntry) -> DeadLetter:
    return dead_letter(entry, NoContent("no text"), "extract")


async def test_a_dead_letter_carries_its_reason(under: Under, topics: tuple[str, ...]) -> None:
    articles, dlq, links = topics
    sink = Sink(under.sender, articles, dlq, links)
    entry = make_entry()
    letter = _no_content(entry)
    await sink.dead_letter(letter)
    ((key, value, headers),) = under.read(dlq)
    assert key == entry.key.encode()
    assert headers["dlq-reason"] == b"no_content"
    assert DeadLetter.model_validate_json(value) == letter


async def test_a_link_round_trips_to_the_same_entry(under: Under, topics: tuple[str, ...]) -> None:
    articles, dlq, links = topics
    entry = make_entry(title="Zürich\u2028 news")
    await Sink(under.sender, articles, dlq, links).link(entry)
    ((key, value, _),) = under.read(links)
    assert key == (entry.canonical_url or entry.key).encode()
    assert decode_link(value) == entry


async def test_messages_of_one_key_keep_their_order(under: Under, topics: tuple[str, ...]) -> None:
    articles, _, _ = topics
    for n in range(5):
        await under.sender.send(articles, b"same-key", str(n).encode(), [])
    assert [value for _, value, _ in under.read(articles)] == [b"0", b"1", b"2", b"3", b"4"]


async def test_an_oversized_message_is_a_permanent_error(under: Under, topics: tuple[str, ...]) -> None:
    articles, _, _ = topics
    with pytest.raises(TooLarge) as caught:
        await under.sender.send(articles, b"k", b"x" * (MAX_REQUEST + 1), [])
    assert isinstance(caught.value, PermanentError)  # dead-lettered, not retried forever
    await under.sender.send(articles, b"k", b"fits", [])  # and the sender goes on
    assert [value for _, value, _ in under.read(articles)] == [b"fits"]


def _check_cloudevent(headers: dict[str, bytes], value: bytes) -> str:
    """The binary-mode event of one message, checked against CloudEvents 1.0; returns its type."""
    attributes = {name: raw.decode("utf-8") for name, raw in headers.items()}
    assert attributes["ce_specversion"] == "1.0"
    assert attributes["ce_id"]
    assert urlsplit(attributes["ce_source"]).scheme in {"https", "file"}
    assert attributes["ce_type"].startswith("example.ingest.")
    assert datetime.fromisoformat(attributes["ce_time"]).utcoffset() is not None
    assert attributes["content-type"] == "application/json"
    if "ce_dataschema" in attributes:
        name = attributes["ce_dataschema"].rsplit("/", 1)[-1]
        schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        assert schema["$id"] == attributes["ce_dataschema"]
        Draft202012Validator(schema).validate(json.loads(value))
    return attributes["ce_type"]


async def test_every_message_is_a_cloudevent_whose_data_matches_its_schema(
    under: Under, topics: tuple[str, ...]
) -> None:
    articles, dlq, links = topics
    sink = Sink(under.sender, articles, dlq, links)
    entry = make_entry(title="Zürich news")
    await sink.publish(make_article(words(200)))
    await sink.dead_letter(_no_content(entry))
    await sink.link(entry)
    kinds = {
        topic: [_check_cloudevent(headers, value) for _, value, headers in under.read(topic)]
        for topic in (articles, dlq, links)
    }
    assert kinds == {
        articles: ["example.ingest.article"],
        dlq: ["example.ingest.dead_letter"],
        links: ["example.ingest.link"],
    }
