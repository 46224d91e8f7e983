"""The tails of the chains: publish an article, or link an entry for the workers; and dead letters.

Each send is awaited to its acknowledgement: the runner commits an item only after its tail
returned. ``Sink`` is the one place messages are made (key, value, headers): a pydantic model that
cannot be serialised is translated here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel

from ingest import __version__
from ingest.errors import IngestError, InternalError
from ingest.kafka.cloudevents import Event, event_id
from ingest.kafka.cloudevents import headers as event_headers
from ingest.kafka.producer import Headers
from ingest.models import (
    ARTICLE_SCHEMA,
    DEAD_LETTER_SCHEMA,
    SCHEMA_VERSION,
    Article,
    DeadLetter,
    FeedEntry,
    OutcomeKind,
    Ticket,
    schema_uri,
)
from ingest.source.links import LINK_VERSION, encode_link, link_key


class Sender(Protocol):
    """What a sink sends through: the acknowledged producer (``ingest.kafka.producer.Publisher``),
    or an in-memory stand-in for tests that honours the same contract."""

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None: ...


def _headers(event: Event, version: int = SCHEMA_VERSION) -> Headers:
    """CloudEvents headers, then the service's own from before them: ``schema-version``,
    ``message-type`` and ``producer`` are written through release 0.2 and removed in 0.3, not
    before 2027-06-01 (README, "Kafka messages")."""
    return [
        *event_headers(event),
        ("schema-version", str(version).encode()),
        ("message-type", event.type.replace("_", "-").encode()),
        ("producer", f"ingest/{__version__}".encode()),
    ]


def article_event(article: Article) -> Event:
    """An article is a new event when its text or title changes; the same article sent again is
    the same event."""
    return Event(
        id=event_id(article.id, article.content_hash, article.title),
        source=article.source.feed_url,
        type="article",
        time=article.fetched_at,
        subject=article.canonical_url or article.url,
        dataschema=schema_uri(ARTICLE_SCHEMA),
    )


def dead_letter_event(letter: DeadLetter) -> Event:
    return Event(
        id=event_id(letter.key, letter.stage, letter.reason),
        source=letter.feed_url,
        type="dead_letter",
        time=letter.failed_at,
        subject=letter.url or letter.key,
        dataschema=schema_uri(DEAD_LETTER_SCHEMA),
    )


def link_event(entry: FeedEntry) -> Event:
    """A link's data is internal to the service (no published schema): a sighting of the same
    entry version is the same event."""
    changed = entry.updated_at or entry.published_at
    return Event(
        id=event_id(link_key(entry).decode(), entry.feed_url, changed.isoformat() if changed else None),
        source=entry.feed_url,
        type="link",
        time=entry.discovered_at,
        subject=entry.link or entry.key,
    )


def _json(model: BaseModel) -> bytes:
    try:
        return model.model_dump_json().encode("utf-8")
    except (ValueError, UnicodeError) as exc:  # PydanticSerializationError is a ValueError
        raise InternalError.wrap(exc) from exc


def article_message(article: Article) -> tuple[bytes, bytes, Headers]:
    """Key (the article id), value (UTF-8 JSON) and headers of an article message."""
    return article.id.encode("utf-8"), _json(article), _headers(article_event(article))


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

    def __init__(
        self, sender: Sender, topic: str, dlq_topic: str, links_topic: str = "", *, latest_topic: str = ""
    ) -> None:
        self._sender = sender
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.links_topic = links_topic
        self.latest_topic = latest_topic

    async def link(self, entry: FeedEntry) -> None:
        try:
            value = encode_link(entry)
        except (ValueError, UnicodeError) as exc:
            raise InternalError.wrap(exc, url=entry.link) from exc
        headers = _headers(link_event(entry), LINK_VERSION)
        await self._sender.send(self.links_topic, link_key(entry), value, headers)

    async def publish(self, article: Article) -> None:
        """The article to its topic and, when there is one, to the compacted topic of the latest
        versions: both acknowledged before this returns (a failure of either sends both again)."""
        key, value, headers = article_message(article)
        if not self.latest_topic:
            await self._sender.send(self.topic, key, value, headers)
            return
        await asyncio.gather(
            self._sender.send(self.topic, key, value, headers),
            self._sender.send(self.latest_topic, key, value, headers),
        )

    async def dead_letter(self, letter: DeadLetter) -> None:
        headers = [*_headers(dead_letter_event(letter)), ("dlq-reason", letter.reason.encode())]
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
