"""The stage protocol, and the one place the chains of stages are wired, top to bottom.

    role all      scheduler ─► feed cycle ─┐                 (the heads: what there is to carry)
    role poller   scheduler ─► feed cycle ─┤
    role worker   links consumer ──────────┤
    backfill      archive records ─────────┘ (the page replayed from the archive: no fetch)
                                   │ one item at a time, through one runner (ingest.runner)
                                   ▼
    article chain   claim ─► fetch ─► extract (and normalise) ─► dedup ─► publish ─► commit
    link chain      claim ─► link ─► commit                          (the tails: publish, link)

Role all and the workers carry feed entries through the article chain; pollers through the link
chain, whose tail hands them to the workers on the links topic. Every item carries a ``Ticket``;
the runner's one commit step writes it after the tail's acknowledgement, then tells the item's
origin (its feed's poll, or its link's offset). Concurrency is chosen here: extraction and
normalisation run in the worker pool handed in, in one call per page, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ingest.archive.writer import Archive
from ingest.config import Settings
from ingest.metrics import Metrics
from ingest.models import Article, Drop, FeedEntry, FetchedPage, OutcomeKind, Ticket
from ingest.net import HttpClient
from ingest.net.robots import Robots, parse_robots
from ingest.stages.article import Extract
from ingest.stages.claim import Claim, InFlight
from ingest.stages.dedup import Dedup
from ingest.stages.fetch import Fetch
from ingest.stages.publish import Link, Publish, Sink
from ingest.state import StateStore
from ingest.workers import WorkerPool

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)


class Stage(Protocol[In, Out]):
    """One arrow of the pipeline: takes an item (and its ticket, to fill in), returns the next item,
    or a ``Drop`` to end it on purpose.

    Raises ``TransientError`` (the item comes back later), ``PermanentError`` (dead letter) or
    ``FatalError`` (the service stops); anything else is a bug, dead-lettered as ``internal``."""

    @property
    def name(self) -> str: ...  # the stage label of its metrics

    async def __call__(self, item: In, ticket: Ticket, /) -> Out | Drop: ...


class Tail(Stage[In, Out], Protocol):
    """The last stage: its return means the item is acknowledged (``outcome``)."""

    @property
    def outcome(self) -> OutcomeKind: ...


@dataclass(frozen=True, slots=True)
class Chain:
    """The stages an item goes through, in order, the last one a ``Tail``. ``lane_until``: the
    stage after which the item lets go of its host's lane (taken before it enters), or None."""

    stages: tuple[Stage[Any, Any], ...]
    tail: Tail[Any, Any]
    lane_until: str | None = None


def article_chain(
    settings: Settings,
    *,
    state: StateStore,
    http: HttpClient,
    workers: WorkerPool,
    sink: Sink,
    metrics: Metrics,
    acknowledged: Callable[[Article], None],
    linked: bool,
    archive: Archive | None = None,
) -> Chain:
    """Entries to articles. ``linked``: the entries come from the links topic, whose poller
    recorded their keys already (so the key is not looked up as seen; the content hash still
    catches a redelivery)."""
    robots = None
    if settings.http.robots_txt:

        async def parse(text: str, token: str) -> Any:
            return await workers.run(parse_robots, text, token)

        robots = Robots(
            http.body,
            http.gate,
            settings.http.user_agent,
            metrics,
            parse=parse,
            wait_s=settings.http.robots_wait_s,
        )
    fetch = Fetch(http, settings.http, robots, archive)
    stages = (
        Claim(state, InFlight(), check_seen=not linked),
        fetch,
        Extract(workers, sketches=settings.dedup.near_duplicates != "off"),
        Dedup(state, settings.dedup),
    )
    return Chain(stages, Publish(sink, acknowledged), lane_until=fetch.name)


def archive_chain(
    settings: Settings,
    *,
    state: StateStore,
    workers: WorkerPool,
    sink: Sink,
    acknowledged: Callable[[Article], None],
    republish: bool,
    replay: Stage[FeedEntry, FetchedPage],
) -> Chain:
    """Archived pages to articles: the article chain with the page replayed from the archive in
    place of the fetch (no network, so no host lanes). ``republish``: keys and texts published
    before are published again, under the same ids."""
    stages = (
        Claim(state, InFlight(), check_seen=not republish),
        replay,
        Extract(workers, sketches=settings.dedup.near_duplicates != "off"),
        Dedup(state, settings.dedup, republish=republish),
    )
    return Chain(stages, Publish(sink, acknowledged))


def link_chain(*, state: StateStore, sink: Sink) -> Chain:
    """Entries to links, for the workers."""
    return Chain((Claim(state, InFlight(), check_seen=True),), Link(sink))
