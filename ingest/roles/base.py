"""What every role is handed, and what it hands back."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ingest.archive.writer import Archive
from ingest.config import FeedConfig, Settings
from ingest.kafka.producer import Publisher
from ingest.metrics import Metrics
from ingest.models import Article, Outcome
from ingest.net import HttpClient
from ingest.pipeline import Chain
from ingest.runner import Runner
from ingest.source.cycle import FeedCycle
from ingest.stages.publish import Sink
from ingest.state import StateStore
from ingest.web import StatusServer
from ingest.workers import WorkerPool

RECENT_ARTICLES = 20  # kept for the status page


@dataclass(frozen=True, slots=True)
class Resources:
    """What the service acquired for the role, in order, and releases after it (``ingest.service``)."""

    settings: Settings
    bootstrap: str
    state: StateStore
    http: HttpClient
    workers: WorkerPool
    publisher: Publisher
    metrics: Metrics
    status: StatusServer
    archive: Archive | None = None  # archive.dir: every fetch written as WARC records

    def sink(self) -> Sink:
        k = self.settings.kafka
        return Sink(self.publisher, k.topic, k.dlq_topic, k.links_topic, latest_topic=k.latest_topic)

    def feed_cycle(self, runner: Runner) -> FeedCycle:
        """The feed cycle that polls for ``runner``'s chain (feed documents archived when
        ``archive.feeds`` is on)."""
        s = self.settings
        return FeedCycle(
            s,
            http=self.http,
            state=self.state,
            workers=self.workers,
            metrics=self.metrics,
            runner=runner,
            archive=self.archive if s.archive.feeds else None,
        )

    def runner(self, chain: Chain) -> Runner:
        """The runner of ``chain``, with this service's state, dead-letter topic and limits."""
        return Runner(
            chain,
            state=self.state,
            sink=self.sink(),
            metrics=self.metrics,
            settings=self.settings.pipeline,
            lanes_per_host=self.settings.http.max_connections_per_host,
        )


def article_topics(settings: Settings) -> dict[str, int]:
    """The topics of a role that publishes articles, with the partitions to create them with."""
    k = settings.kafka
    topics = {k.topic: k.partitions, k.dlq_topic: k.partitions}
    if k.latest_topic:
        topics[k.latest_topic] = k.partitions  # keyed like the articles: one article, one partition
    return topics


@dataclass(frozen=True, slots=True)
class RunSummary:
    polls: Counter[str]  # by result; a backfill's records, by what they were (``head``)
    outcomes: Counter[str]
    unacknowledged: int = 0
    head: str = "polls"

    def add(self, result: str, outcomes: tuple[Outcome, ...]) -> None:
        self.polls[result] += 1
        self.outcomes.update(o.kind for o in outcomes)

    def describe(self) -> str:
        polls = ", ".join(f"{k}={v}" for k, v in sorted(self.polls.items())) or "none"
        outcomes = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items())) or "none"
        return f"{self.head}: {polls}; entries: {outcomes}"


class Role(Protocol):
    @property
    def feeds(self) -> tuple[FeedConfig, ...] | None:
        """The feeds it polls (None: a role that polls none)."""
        ...

    def topics(self) -> dict[str, int]:
        """The topics the role writes to or reads, with the partitions to create them with."""
        ...

    async def run(self, resources: Resources, *, once: bool, stop: asyncio.Event) -> RunSummary:
        """Work until done (``once``) or ``stop``; drain; return what was done. Raises
        ``FatalError``."""
        ...


class Published:
    """Hears of every article Kafka acknowledged: the publish metrics, and the last few articles
    for the status page."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.recent: deque[Article] = deque(maxlen=RECENT_ARTICLES)  # newest first

    def __call__(self, article: Article) -> None:
        self.recent.appendleft(article)
        m = self._metrics
        now = datetime.now(UTC)
        m.articles_published.labels(article.extraction.method).inc()
        if article.duplicate_of is not None:
            m.near_duplicates.inc()
        m.last_publish.set(now.timestamp())
        if article.published_at is not None:
            m.freshness.observe(max(0.0, (now - article.published_at).total_seconds()))
