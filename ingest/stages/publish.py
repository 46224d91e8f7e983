"""Publish: articles to the articles topic, failures to the dead-letter topic, each awaited to ack."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest import __version__
from ingest.errors import IngestError
from ingest.kafka.producer import Headers, Publisher
from ingest.models import SCHEMA_VERSION, Article, DeadLetter, FeedEntry
from ingest.source.links import LINK_VERSION, encode_link, link_key

CONTENT_TYPE = b"application/json"


def _headers(kind: str, version: int = SCHEMA_VERSION) -> Headers:
    return [
        ("content-type", CONTENT_TYPE),
        ("schema-version", str(version).encode()),
        ("message-type", kind.encode()),
        ("producer", f"ingest/{__version__}".encode()),
    ]


def article_message(article: Article) -> tuple[bytes, bytes, Headers]:
    """Key (the article id), value (UTF-8 JSON) and headers of an article message."""
    value = article.model_dump_json(exclude_none=False).encode("utf-8")
    return article.id.encode("utf-8"), value, _headers("article")


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

    def __init__(self, publisher: Publisher, topic: str, dlq_topic: str, links_topic: str = "") -> None:
        self._publisher = publisher
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.links_topic = links_topic

    async def link(self, entry: FeedEntry) -> None:
        headers = _headers("link", LINK_VERSION)
        await self._publisher.send(self.links_topic, link_key(entry), encode_link(entry), headers)

    async def publish(self, article: Article) -> None:
        key, value, headers = article_message(article)
        await self._publisher.send(self.topic, key, value, headers)

    async def dead_letter(self, letter: DeadLetter) -> None:
        headers = [*_headers("dead-letter"), ("dlq-reason", letter.reason.encode())]
        value = letter.model_dump_json().encode("utf-8")
        await self._publisher.send(self.dlq_topic, letter.key.encode("utf-8"), value, headers)
