"""The tails of the chains: publish an article, or link an entry for the workers; and dead letters.

Each send is awaited to its acknowledgement: the runner commits an item only after its tail
returned. ``Sink`` is the one place messages are made (key, value, headers): a pydantic model that
cannot be serialised is translated here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel

from ingest import __version__
from ingest.errors import IngestError, InternalError
from ingest.kafka.producer import Headers
from ingest.models import SCHEMA_VERSION, Article, DeadLetter, FeedEntry, OutcomeKind, Ticket
from ingest.source.links import LINK_VERSION, encode_link, link_key

CONTENT_TYPE = b"application/json"


class Sender(Protocol):
    """What a sink sends through: the acknowledged producer (``ingest.kafka.producer.Publisher``),
    or an in-memory stand-in for tests that honours the same contract."""

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None: ...


def _headers(kind: str, version: int = SCHEMA_VERSION) -> Headers:
    return [
        ("content-type", CONTENT_TYPE),
        ("schema-version", str(version).encode()),
        ("message-type", kind.encode()),
        ("producer", f"ingest/{__version__}".encode()),
    ]


def _json(model: BaseModel) -> bytes:
    try:
        return model.model_dump_json().encode("utf-8")
    except (ValueError, UnicodeError) as exc:  # PydanticSerializationError is a ValueError
        raise InternalError.wrap(exc) from exc


def article_message(article: Article) -> tuple[bytes, bytes, Headers]:
    """Key (the article id), value (UTF-8 JSON) and headers of an article message."""
    return article.id.encode("utf-8"), _json(article), _headers("article")


def dead_letter(entry: FeedEntry, error: IngestError, stage: str) -> DeadLetter:
    return DeadLetter(
        key=entry.key,
        reason=error.reason,
        error=str(error)[:2000],
        stage=stage,
        url=entry.link,
        feed_url=entry.feed_url,
        title=entry.title[:1000] if entry.title else None,
        failed_at=datetime.now(UTC),
    )


class Sink:
    """Where processed items end: the articles topic, or the dead-letter topic with a reason; and
    where a poller hands new entries to the workers (the links topic)."""

    def __init__(self, sender: Sender, topic: str, dlq_topic: str, links_topic: str = "") -> None:
        self._sender = sender
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.links_topic = links_topic

    async def link(self, entry: FeedEntry) -> None:
        try:
            value = encode_link(entry)
        except (ValueError, UnicodeError) as exc:
            raise InternalError.wrap(exc, url=entry.link) from exc
        await self._sender.send(self.links_topic, link_key(entry), value, _headers("link", LINK_VERSION))

    async def publish(self, article: Article) -> None:
        key, value, headers = article_message(article)
        await self._sender.send(self.topic, key, value, headers)

    async def dead_letter(self, letter: DeadLetter) -> None:
        headers = [*_headers("dead-letter"), ("dlq-reason", letter.reason.encode())]
        await self._sender.send(self.dlq_topic, letter.key.encode("utf-8"), _json(letter), headers)


class Publish:
    """Tail of the article chain: the article to its topic; ``acknowledged`` hears of each ack."""

    name = "publish"
    outcome: OutcomeKind = "published"

    def __init__(self, sink: Sink, acknowledged: Callable[[Article], None]) -> None:
        self._sink = sink
        self._acknowledged = acknowledged

    async def __call__(self, article: Article, ticket: Ticket, /) -> Article:
        await self._sink.publish(article)
        self._acknowledged(article)
        return article


class Link:
    """Tail of the poller's chain: the entry to the links topic, for the workers."""

    name = "link"
    outcome: OutcomeKind = "queued"

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    async def __call__(self, entry: FeedEntry, ticket: Ticket, /) -> FeedEntry:
        await self._sink.link(entry)
        return entry
