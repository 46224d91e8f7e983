"""The extract stage: a fetched page to its ``Article``, extraction and normalisation in one worker call.

Both steps are pure functions of the page (``ingest.stages.extract``, then
``ingest.stages.normalise``), and both read hostile text, so both run in the worker pool. Run as one
task, a page crosses to a worker once and comes back as its article, with its near-duplicate sketch:
half the hand-offs, pickles and waits of one task per step, which a backfill saturating the cores
with extraction feels. A page whose own text is not used (the feed's is) is logged here, once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.models import Article, FetchedPage, Ticket
from ingest.source.entries import entry_for_link
from ingest.stages.copies import site_of, sketch
from ingest.stages.extract import extract_page
from ingest.stages.normalise import normalise
from ingest.workers import WorkerPool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Made:
    """What a worker makes of a page: the article, its sketch (when asked for), and why the feed's
    text was used instead of the page's, if it was (reason, detail)."""

    article: Article
    sketch: bytes | None
    fallback: tuple[str, str | None] | None = None


def make_article(page: FetchedPage, sketches: bool) -> Made:
    """The page's article (``extract_page``, then ``normalise``) and its sketch if ``sketches``.

    Raises what they raise: ``NoContent`` when neither the page nor the feed has text left."""
    extracted = extract_page(page)
    article = normalise(extracted)
    fallback = None
    if extracted.method == "feed":
        fallback = (extracted.fallback_reason or "not_fetched", extracted.fallback_detail)
    sketched = sketch(article.body, site_of(article.canonical_url or article.url)) if sketches else None
    return Made(article, sketched, fallback)


def article_from_html(body: bytes, url: str, content_type: str | None = None) -> Article:
    """Extract and normalise one saved page, no network: the stages after fetch, in-process."""
    now = datetime.now(UTC)
    entry = entry_for_link(url, feed_url=url, discovered_at=now)
    page = FetchedPage(entry=entry, url=url, body=body, content_type=content_type, fetched_at=now)
    return make_article(page, sketches=False).article


class Extract:
    """The extract stage: ``make_article`` in the worker pool. The sketch (unless near-duplicates are
    off) is left on the ticket for the dedup stage."""

    name = "extract"

    def __init__(self, workers: WorkerPool, *, sketches: bool = True) -> None:
        self._workers = workers
        self._sketches = sketches

    async def __call__(self, page: FetchedPage, ticket: Ticket, /) -> Article:
        made = await self._workers.run(make_article, page, self._sketches)
        ticket.sketch = made.sketch
        if made.fallback is not None:
            reason, detail = made.fallback
            entry = page.entry
            log.log(
                logging.INFO if page.skipped else logging.WARNING,
                "page not used (%s): %s; published with the feed's text",
                reason,
                detail or entry.link,
                extra={"feed": entry.feed_url, "url": entry.link, "reason": reason},
            )
        return made.article
