"""Role all: one process polls the feeds and carries their entries to articles.

scheduler ─► feed cycle ─► claim ─► fetch ─► extract ─► normalise ─► dedup ─► publish ─► commit
"""

from __future__ import annotations

import asyncio

from ingest.config import Settings
from ingest.pipeline import article_chain
from ingest.roles.base import Published, Resources, RunSummary, article_topics
from ingest.roles.feeds import FeedLoop
from ingest.source.feedlist import load_feeds


class SingleProcess:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.feeds = load_feeds(settings)

    def topics(self) -> dict[str, int]:
        return article_topics(self._settings)

    async def run(self, resources: Resources, *, once: bool, stop: asyncio.Event) -> RunSummary:
        r = resources
        published = Published(r.metrics)
        chain = article_chain(
            r.settings,
            state=r.state,
            http=r.http,
            workers=r.workers,
            sink=r.sink(),
            metrics=r.metrics,
            acknowledged=published,
            archive=r.archive,
            linked=False,
        )
        runner = r.runner(chain)
        cycle = r.feed_cycle(runner)
        loop = FeedLoop(r.settings, self.feeds, cycle, r.metrics)
        loop.show_on(r.status, scheduled=not once)
        r.status.recent = lambda: tuple(published.recent)
        if once:
            return await loop.once(stop)
        return await loop.forever(stop, r.publisher)
