"""The stage protocol and the one place the stages are wired, top to bottom.

    feed ─► poll ─► parse ─► [per entry] claim key ─► fetch ─► extract ─► normalise ─► dedup ─► publish
                                   │                                                          │
    state: key + content hash recorded after the ack; feed validators saved after the whole poll
                                   │
    role poller: ... claim key ─► link ─► (links topic) ─► role worker: fetch ─► ... ─► publish

At-least-once: an entry's key is recorded only after Kafka acknowledged its article (or its dead
letter), or, in the poller role, its link: from then on the links topic holds it until a worker's
article is acknowledged and the worker commits past it (``ingest.fleet``). A feed's new validators
are saved only when every entry of the poll ended terminally (published, dropped, dead-lettered,
or linked); otherwise the next poll sees the same entries again.
CPU-bound stages (parse, extract) run in the worker pool handed in here, not inside the stages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from ingest.config import FeedConfig, Settings
from ingest.errors import (
    FatalError,
    IngestError,
    NoContent,
    PermanentError,
)
from ingest.metrics import Metrics
from ingest.models import Article, Drop, Extracted, FeedEntry, FetchedPage, Validators
from ingest.net import HttpClient
from ingest.net.hosts import HostGate
from ingest.net.robots import Robots
from ingest.source.discover import feed_links
from ingest.source.parser import parse_feed
from ingest.source.poller import FeedResponse, poll_feed
from ingest.source.sitemap import SitemapIndex
from ingest.stages.dedup import ALREADY_SEEN, DUPLICATE_URL, Deduplicator, fingerprint_row
from ingest.stages.extract import choose, extract_html, feed_text, from_feed
from ingest.stages.fetch import Fetcher
from ingest.stages.normalise import build_article
from ingest.stages.publish import Sink, dead_letter
from ingest.state import FEED_HEALTH, FeedState, StateStore
from ingest.urls import canonicalize
from ingest.workers import WorkerPool

log = logging.getLogger(__name__)

# Entries read from one feed document at most (its size is capped by http.max_feed_bytes too).
MAX_ENTRIES_PER_DOCUMENT = 100_000
RECENT_ARTICLES = 20  # kept for the status page

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)
T = TypeVar("T")


class Stage(Protocol[In, Out]):
    """One arrow of the pipeline: takes an item, returns the next (a stage that filters returns
    ``X | Drop``).

    Raises ``TransientError`` (the item comes back later), ``PermanentError`` (dead letter) or
    ``FatalError`` (the service stops).
    """

    async def __call__(self, item: In, /) -> Out: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Literal["published", "dropped", "dead_lettered", "deferred", "queued"]
    reason: str | None = None

    @property
    def terminal(self) -> bool:
        return self.kind != "deferred"


PollResult = Literal["modified", "not_modified", "unchanged", "error"]
# Conditional GETs trust the server's validators; a full fetch this often catches those that lie.
FULL_FETCH_EVERY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll did, and what it tells the scheduler about the next one."""

    feed_url: str
    result: PollResult
    outcomes: tuple[Outcome, ...] = ()
    error: str | None = None
    consecutive_errors: int = 0
    backlog: int = 0
    new_entries: int = 0
    hint_s: float | None = None  # the feed's own freshness hint (Cache-Control, Expires, ttl)
    retry_after: float | None = None
    gone: bool = False


class Pipeline:
    """Runs feeds through the stages. Built by ``ingest.service``, which owns the resources."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: HttpClient,
        state: StateStore,
        sink: Sink,
        metrics: Metrics,
        workers: WorkerPool,
    ) -> None:
        self._settings = settings
        self._http = http
        self._state = state
        self._sink = sink
        self._metrics = metrics
        self._workers = workers
        self._dedup = Deduplicator(state, settings.dedup)
        self.health = FeedHealth(metrics)
        self.recent: deque[Article] = deque(maxlen=RECENT_ARTICLES)  # for the status page, newest first
        self._room = asyncio.Semaphore(settings.pipeline.max_articles_in_flight)
        # Lanes per host, taken before a room (a feed slot for polls): the queue for a slow or
        # Crawl-delayed host forms outside, and other hosts' work goes on.
        self._lanes = HostGate(settings.http.max_connections_per_host, 0.0, 0.0)
        self._poll_lanes = HostGate(settings.http.max_connections_per_host, 0.0, 0.0)
        # The stages, in pipeline order.
        robots = None
        if settings.http.robots_txt:
            robots = Robots(http.body, http.gate, settings.http.user_agent, metrics)
        self.fetch: Stage[FeedEntry, FetchedPage] = Fetcher(http, settings.http, robots)
        self.extract: Stage[FetchedPage, Extracted] = self._extract
        self.normalise: Stage[Extracted, Article] = self._normalise
        self.publish: Stage[Article, Article] = self._publish
        # Role poller: new entries go to the links topic instead of down the stages.
        self._hand_off = settings.role == "poller"

    @property
    def state(self) -> StateStore:
        return self._state

    def poll_lane(self, feed: FeedConfig) -> contextlib.AbstractAsyncContextManager[None]:
        """Polls of one host at once, at most ``max_connections_per_host``: take it before a feed
        slot, so that many feeds of one host do not hold every slot while they wait for its turn."""
        return self._poll_lanes.slot(_host(feed.url))

    async def _cpu(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        return await self._workers.run(fn, *args, **kwargs)

    # -- stage bookkeeping ----------------------------------------------------------------------

    async def _run(self, stage: str, call: Awaitable[T]) -> T:
        m = self._metrics
        m.stage_items_in.labels(stage).inc()
        m.stage_in_progress.labels(stage).inc()
        started = time.monotonic()
        try:
            result = await call
        except IngestError as exc:
            exc.stage = exc.stage or stage
            m.stage_errors.labels(stage, exc.reason).inc()
            raise
        finally:
            m.stage_in_progress.labels(stage).dec()
            m.stage_duration.labels(stage).observe(time.monotonic() - started)
        if isinstance(result, Drop):
            m.stage_dropped.labels(stage, result.reason).inc()
        else:
            m.stage_items_out.labels(stage).inc()
            m.stage_last_success.labels(stage).set(time.time())
        return result

    # -- the stages that are not classes of their own ---------------------------------------------

    async def _extract(self, page: FetchedPage) -> Extracted:
        if page.body is None or page.url is None:
            return _fallen_back(page, page.error)
        try:
            text, metadata, date_hint = await self._cpu(extract_html, page.body, page.url, page.content_type)
        except PermanentError as exc:
            return _fallen_back(page, exc)
        return choose(page, text, metadata, date_hint)

    async def _normalise(self, extracted: Extracted) -> Article:
        article = build_article(extracted)
        if not article.body:
            raise NoContent("no body text after normalisation", url=article.url)
        return article

    async def _publish(self, article: Article) -> Article:
        await self._sink.publish(article)
        return article

    # -- one entry, top to bottom ---------------------------------------------------------------

    async def link(self, entry: FeedEntry) -> Outcome:
        """Role poller: hand a new entry to the workers through the links topic, and record its key
        once the link is acknowledged. Never raises but ``FatalError``."""
        try:
            async with self._dedup.keys.claim(entry.key) as claim:
                if claim.owner is not None:
                    return await self._claimed_elsewhere(claim.owner)
                await self._run("link", self._sink.link(entry))
                await self._state.record([entry.key], "", None)
                claim.finish()
        except FatalError:
            raise
        except IngestError as exc:
            log.warning("deferred %s: %s", entry.link or entry.key, exc, extra=_fields(entry, exc))
            return Outcome("deferred", f"{exc.stage or 'link'}:{exc.reason}")
        return Outcome("queued")

    async def _claimed_elsewhere(self, owner: asyncio.Future[bool]) -> Outcome:
        """The same key is in flight here already: a duplicate once its owner finished, else later."""
        if await owner:
            self._metrics.stage_dropped.labels("dedup", DUPLICATE_URL.reason).inc()
            return Outcome("dropped", DUPLICATE_URL.reason)
        return Outcome("deferred", "duplicate_failed")

    async def process(self, entry: FeedEntry, *, linked: bool = False) -> Outcome:
        """Carry one feed entry to Kafka. Never raises but ``FatalError``.

        ``linked``: the entry came from the links topic, where a poller put it after recording its
        key, so the key is not looked up as seen (the content hash still catches a redelivery).

        An entry takes its host's lane before a room in the pipeline and leaves the lane once its
        page is fetched: entries queued behind a slow or Crawl-delayed host wait outside, and do not
        hold rooms that other hosts' entries could use."""
        started = time.monotonic()
        async with contextlib.AsyncExitStack() as lane:
            await lane.enter_async_context(self._lanes.slot(_host(entry.link)))
            async with self._room:
                try:
                    try:
                        outcome = await self._process(entry, lane, linked)
                    except PermanentError as exc:
                        outcome = await self._dead_letter(entry, exc)
                except FatalError:
                    raise
                except IngestError as exc:  # transient, or the dead letter itself could not be sent
                    log.warning("deferred %s: %s", entry.link or entry.key, exc, extra=_fields(entry, exc))
                    outcome = Outcome("deferred", f"{exc.stage or 'process'}:{exc.reason}")
        self._metrics.entry_outcomes.labels(outcome.kind).inc()
        log.debug(
            "%s %s",
            outcome.kind,
            entry.link or entry.key,
            extra={
                "feed": entry.feed_url,
                "url": entry.link,
                "outcome": outcome.kind,
                "reason": outcome.reason,
                "duration_s": round(time.monotonic() - started, 3),
            },
        )
        return outcome

    async def _process(self, entry: FeedEntry, lane: contextlib.AsyncExitStack, linked: bool) -> Outcome:
        async with self._dedup.keys.claim(entry.key) as claim:
            if claim.owner is not None:
                return await self._claimed_elsewhere(claim.owner)
            if not linked and await self._dedup.seen(entry.key):
                self._metrics.stage_dropped.labels("dedup", ALREADY_SEEN.reason).inc()
                return Outcome("dropped", ALREADY_SEEN.reason)
            page = await self._run("fetch", self.fetch(entry))
            await lane.aclose()
            if page.skipped:
                self._metrics.stage_dropped.labels("fetch", page.skipped).inc()
                if not feed_text(entry).strip():  # nothing we may publish: a drop, not a failure
                    await self._state.record([entry.key], "", None)
                    claim.finish()
                    return Outcome("dropped", page.skipped)
            extracted = await self._run("extract", self.extract(page))
            article = await self._run("normalise", self.normalise(extracted))
            async with self._dedup.contents.claim(article.content_hash) as content:
                kept = await self._run("dedup", self._dedup.by_content(article, content))
                if isinstance(kept, Drop):
                    await self._state.record([entry.key], article.id, None)
                    outcome = Outcome("dropped", kept.reason)
                else:
                    await self._run("publish", self.publish(kept))
                    # Registered already when it was matched, unless dedup had no need to.
                    row = None if self._dedup.registers(kept) else fingerprint_row(kept)
                    await self._state.record([entry.key], kept.id, kept.content_hash, row)
                    self._acknowledged(kept)
                    outcome = Outcome("published")
                content.finish()
            claim.finish()
            return outcome

    def _acknowledged(self, article: Article) -> None:
        self.recent.appendleft(article)
        m = self._metrics
        now = datetime.now(UTC)
        m.articles_published.labels(article.extraction.method).inc()
        if article.duplicate_of is not None:
            m.near_duplicates.inc()
        m.last_publish.set(now.timestamp())
        if article.published_at is not None:
            m.freshness.observe(max(0.0, (now - article.published_at).total_seconds()))

    async def _dead_letter(self, entry: FeedEntry, error: PermanentError) -> Outcome:
        stage = error.stage or "process"
        log.warning("dead letter (%s at %s): %s", error.reason, stage, error, extra=_fields(entry, error))
        await self._sink.dead_letter(dead_letter(entry, error, stage))
        self._metrics.dead_letters.labels(error.reason).inc()
        await self._state.record([entry.key], "", None)
        return Outcome("dead_lettered", error.reason)

    # -- one feed -------------------------------------------------------------------------------

    async def poll(self, feed: FeedConfig, *, follow_index: bool = True) -> PollReport:
        """Poll one feed and carry every new entry through; save its state at the end.

        A sitemap index is polled with its recent child sitemaps (see ``recent_children``), each a
        feed of its own in the state store; the index's report sums theirs."""
        state = await self._state.feed_state(feed.url)
        now = datetime.now(UTC)
        # Validators can lie: now and then fetch the feed without them.
        conditional = state.last_full_at is not None and now - state.last_full_at < FULL_FETCH_EVERY
        try:
            response = await self._run(
                "poll",
                poll_feed(
                    self._http,
                    state.resolved_url or feed.url,
                    state.validators,
                    max_bytes=self._settings.http.max_feed_bytes,
                    conditional=conditional,
                ),
            )
            fetched = replace(
                state,
                last_polled_at=now,
                last_status=response.status,
                last_full_at=state.last_full_at if conditional else now,
            )
            # An unchanged body is not parsed again, except on the daily full fetch: that one parse a
            # day renews the seen keys of the entries it still lists (see ``state.ttl_days``).
            if not response.modified or (conditional and response.body_hash == state.body_hash):
                result: PollResult = "not_modified" if not response.modified else "unchanged"
                self._metrics.feed_polls.labels(result).inc()
                await self._save(_succeeded(fetched, now, fetched.validators, 0))
                report = PollReport(feed.url, result, hint_s=response.hint_s)
                if state.children and follow_index:
                    return await self._poll_children(feed, state.children, report)
                return report
            entries = await self._run("parse", self._parse(response, feed, follow_index))
        except FatalError:
            raise
        except IngestError as exc:
            if exc.stage == "parse" and exc.reason == "html_not_feed" and state.resolved_url is None:
                links = feed_links(response.body, response.url)
                if links:
                    log.info("%s is a web page; polling the feed it announces, %s", feed.url, links[0][0])
                    await self._save(replace(state, resolved_url=links[0][0], validators=Validators()))
                    return await self.poll(feed)
            return await self._poll_failed(feed, state, now, exc)
        self._metrics.feed_polls.labels("modified").inc()
        if isinstance(entries, SitemapIndex):
            indexed = _succeeded(fetched, now, response.validators, 0)
            await self._save(replace(indexed, body_hash=response.body_hash, children=entries.recent))
            report = PollReport(feed.url, "modified", hint_s=response.hint_s)
            return await self._poll_children(feed, entries.recent, report)
        self._metrics.feed_entries.inc(len(entries))
        unseen = await self._dedup.unseen([e.key for e in entries])
        new = [e for e in entries if e.key in unseen]
        if len(new) < len(entries):
            self._metrics.stage_dropped.labels("dedup", ALREADY_SEEN.reason).inc(len(entries) - len(new))
        # At most max_entries_per_poll new entries per poll; the rest wait for the next poll, which
        # comes soon because the validators do not advance while a backlog remains.
        cap = self._settings.pipeline.max_entries_per_poll
        batch, backlog = new[:cap], len(new[cap:])
        if backlog:
            log.info("%s: %d new entries; processing %d now, the rest next poll", feed.url, len(new), cap)
        carry = self.link if self._hand_off else self.process
        outcomes = tuple(await asyncio.gather(*(carry(e) for e in batch)))
        complete = not backlog and all(o.terminal for o in outcomes)
        done = _succeeded(fetched, now, response.validators if complete else state.validators, len(batch))
        await self._save(replace(done, body_hash=response.body_hash if complete else state.body_hash))
        return PollReport(
            feed.url, "modified", outcomes, backlog=backlog, hint_s=response.hint_s, new_entries=len(new)
        )

    async def _poll_children(
        self, feed: FeedConfig, children: tuple[str, ...], report: PollReport
    ) -> PollReport:
        """Poll a sitemap index's child sitemaps (no deeper: an index inside an index is an error)
        and fold their reports into the index's."""
        subfeeds = [FeedConfig(url=url, name=feed.name, tags=feed.tags) for url in children]
        reports = await asyncio.gather(*(self.poll(sub, follow_index=False) for sub in subfeeds))
        waits = [r.retry_after for r in reports if r.retry_after is not None]
        return replace(
            report,
            result="modified" if any(r.result == "modified" for r in reports) else report.result,
            outcomes=report.outcomes + tuple(o for r in reports for o in r.outcomes),
            backlog=report.backlog + sum(r.backlog for r in reports),
            new_entries=report.new_entries + sum(r.new_entries for r in reports),
            retry_after=max(waits) if waits else report.retry_after,
        )

    async def _save(self, state: FeedState) -> None:
        await self._state.save_feed_state(state)
        self.health.update(state)

    async def _parse(
        self, response: FeedResponse, feed: FeedConfig, follow_index: bool
    ) -> tuple[FeedEntry, ...] | SitemapIndex:
        """The feed's entries, or (where indexes are followed) the sitemap index it turned out to be."""
        try:
            return await self._cpu(
                parse_feed,
                response.body,
                feed_url=feed.url,
                base_url=response.url,
                content_type=response.content_type,
                max_entries=MAX_ENTRIES_PER_DOCUMENT,
                feed_tags=feed.tags,
            )
        except SitemapIndex as index:
            if not follow_index:
                raise
            return index

    async def _poll_failed(
        self, feed: FeedConfig, state: FeedState, now: datetime, exc: IngestError
    ) -> PollReport:
        log.warning(
            "poll of %s failed (%s): %s",
            feed.url,
            exc.reason,
            exc,
            extra={"stage": "poll", "feed": feed.url, "error": type(exc).__name__, "reason": exc.reason},
        )
        self._metrics.feed_polls.labels("error").inc()
        self._metrics.feed_poll_errors.labels(exc.reason).inc()
        failed = replace(
            state,
            last_polled_at=now,
            last_error=f"{exc.reason}: {exc}"[:500],
            last_error_reason=exc.reason,
            last_status=getattr(exc, "status", None),
            consecutive_errors=state.consecutive_errors + 1,
            gone=exc.reason == "http_410",
        )
        await self._save(failed)
        return PollReport(
            feed.url,
            "error",
            error=exc.reason,
            consecutive_errors=failed.consecutive_errors,
            retry_after=getattr(exc, "retry_after", None),
            gone=failed.gone,
        )


class FeedHealth:
    """The latest state of every feed polled, and the ``ingest_feeds{state}`` counts, kept in step
    (one update per poll, not a scan of every feed)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.states: dict[str, FeedState] = {}
        for health in FEED_HEALTH:
            metrics.feeds_by_state.labels(health).set(0)

    def update(self, state: FeedState) -> None:
        before = self.states.get(state.url)
        if before is not None:
            self._metrics.feeds_by_state.labels(before.health).dec()
        self.states[state.url] = state
        self._metrics.feeds_by_state.labels(state.health).inc()


def _fallen_back(page: FetchedPage, error: IngestError | None) -> Extracted:
    """The feed's own text for an entry whose page failed; raises when the feed has none."""
    extracted = from_feed(page, error.reason if error else "not_fetched")
    log.log(
        logging.INFO if page.skipped else logging.WARNING,
        "page not used (%s): %s; published with the feed's text",
        extracted.fallback_reason,
        error or page.entry.link,
        extra=_fields(page.entry, error) | {"reason": extracted.fallback_reason},
    )
    return extracted


def _fields(entry: FeedEntry, error: IngestError | None) -> dict[str, Any]:
    """Structured log fields of an entry and what went wrong with it."""
    found: dict[str, Any] = {"feed": entry.feed_url, "url": entry.link}
    if error is not None:
        found |= {"stage": error.stage, "error": type(error).__name__, "reason": error.reason}
    return found


def _host(link: str | None) -> str:
    return (urlsplit(link).hostname or "") if link else ""


def _succeeded(state: FeedState, now: datetime, validators: Validators, entries: int) -> FeedState:
    return replace(
        state,
        validators=validators,
        last_polled_at=now,
        last_success_at=now,
        last_error=None,
        last_error_reason=None,
        consecutive_errors=0,
        entries_seen=state.entries_seen + entries,
        new_entries=entries,
        first_success_at=state.first_success_at or now,
        first_entries=state.first_entries if state.first_success_at else entries,
        gone=False,
    )


def entry_for_link(url: str, *, feed_url: str, discovered_at: datetime) -> FeedEntry:
    """A feed entry that is nothing but a link (a saved page, a link made by hand)."""
    canonical = canonicalize(url)
    return FeedEntry(
        key=canonical,
        feed_url=feed_url,
        link=url,
        canonical_url=canonical,
        guid=None,
        title=None,
        summary=None,
        content_html=None,
        authors=(),
        published_at=None,
        updated_at=None,
        tags=(),
        language=None,
        feed_title=None,
        discovered_at=discovered_at,
    )


def article_from_html(body: bytes, url: str, content_type: str | None = None) -> Article:
    """Extract and normalise one saved page, no network: the stages after fetch, in-process."""
    now = datetime.now(UTC)
    entry = entry_for_link(url, feed_url=url, discovered_at=now)
    page = FetchedPage(entry=entry, url=url, body=body, content_type=content_type, fetched_at=now)
    try:
        extracted = choose(page, *extract_html(body, url, content_type))
    except PermanentError as exc:
        extracted = from_feed(page, exc.reason)
    article = build_article(extracted)
    if not article.body:
        raise NoContent("no body text found on the page", url=url)
    return article
