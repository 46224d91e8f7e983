"""One poll of one feed: the feed cycle, apart from the item chain it feeds.

    state ─► conditional GET ─► parse (worker pool) ─► unseen entries ─► runner, each ─► save state
               │ a web page: the feed it announces (discovery, worker pool), polled instead
               └ a sitemap index: its recent child sitemaps, each polled as a feed of its own

A feed's new validators (and the hash of the body they go with) are saved only when every entry of
the poll was committed (``PollBatch``: the origin each item's ticket names); otherwise the next
poll sees the same entries again. A poll never raises but ``FatalError``: a failure, ours or the
feed's, is the poll's result, and the feed stays in the schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from ingest.archive.writer import Archive, Capture
from ingest.config import FeedConfig, Settings
from ingest.errors import FatalError, IngestError, InternalError, StateUnavailable
from ingest.metrics import Metrics
from ingest.models import Outcome, Validators
from ingest.net import HttpClient
from ingest.net.hosts import HostGate
from ingest.runner import Runner
from ingest.source.discover import feed_links
from ingest.source.parser import FeedDocument, read_feed
from ingest.source.poller import FeedResponse, poll_feed
from ingest.source.sitemap import SitemapIndex
from ingest.state import FEED_HEALTH, FeedState, StateStore
from ingest.workers import WorkerPool

log = logging.getLogger(__name__)

# Entries read from one feed document at most (its size is capped by http.max_feed_bytes too).
MAX_ENTRIES_PER_DOCUMENT = 100_000
# Conditional GETs trust the server's validators; a full fetch this often catches those that lie.
FULL_FETCH_EVERY = timedelta(hours=24)

PollResult = Literal["modified", "not_modified", "unchanged", "error"]


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


class PollBatch:
    """The origin of the items of one poll: counts those committed."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.committed_items = 0

    def committed(self) -> None:
        self.committed_items += 1

    @property
    def complete(self) -> bool:
        return self.committed_items == self.size


class FeedHealth:
    """The latest state of every feed polled, and the ``ingest_feeds{state}`` counts, kept in step
    (one update per poll, not a scan of every feed)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.states: dict[str, FeedState] = {}
        self._counts = dict.fromkeys(FEED_HEALTH, 0)
        for health in FEED_HEALTH:
            metrics.feeds_by_state.labels(health).set(0)

    def update(self, state: FeedState) -> None:
        before = self.states.get(state.url)
        if before is not None:
            self._metrics.feeds_by_state.labels(before.health).dec()
            self._counts[before.health] -= 1
        self.states[state.url] = state
        self._metrics.feeds_by_state.labels(state.health).inc()
        self._counts[state.health] += 1

    def all_failing(self) -> int:
        """How many feeds were polled, when every one of them is failing now; else 0."""
        polled = len(self.states)
        return polled if polled and self._counts["failing"] == polled else 0


class FeedCycle:
    """Polls feeds and hands their new entries to a runner."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: HttpClient,
        state: StateStore,
        workers: WorkerPool,
        metrics: Metrics,
        runner: Runner,
        archive: Archive | None = None,
    ) -> None:
        self._settings = settings
        self._archive = archive
        self._http = http
        self._state = state
        self._workers = workers
        self._metrics = metrics
        self._runner = runner
        self.health = FeedHealth(metrics)
        self._lanes = HostGate(settings.http.max_connections_per_host, 0.0, 0.0)

    def lane(self, feed: FeedConfig) -> contextlib.AbstractAsyncContextManager[None]:
        """Polls of one host at once, at most ``max_connections_per_host``: taken before a feed
        slot, so that many feeds of one host do not hold every slot while they wait for its turn."""
        return self._lanes.slot(urlsplit(feed.url).hostname or "")

    async def poll(self, feed: FeedConfig, *, child_of: FeedConfig | None = None) -> PollReport:
        """Poll one feed and carry every new entry through; save its state at the end.

        A sitemap index is polled with its recent child sitemaps (``child_of`` the index), each a
        feed of its own in the state store; the index's report sums theirs. A child's URL comes
        from the index, not from the operator: only the configured feed's port is trusted."""
        try:
            state = await self._state.feed_state(feed.url)
        except StateUnavailable as exc:
            return self._state_down(feed, exc)
        now = datetime.now(UTC)
        try:
            return await self._poll(feed, state, now, child_of)
        except FatalError:
            raise
        except StateUnavailable as exc:
            return self._state_down(feed, exc)
        except IngestError as exc:
            return await self._failed(feed, state, now, exc)
        except Exception as exc:  # a bug must not take the feed out of the schedule
            log.error("poll of %s failed unexpectedly", feed.url, exc_info=exc)
            return await self._failed(feed, state, now, InternalError.wrap(exc, url=feed.url))

    async def _poll(
        self, feed: FeedConfig, state: FeedState, now: datetime, child_of: FeedConfig | None
    ) -> PollReport:
        # Validators can lie: now and then fetch the feed without them.
        conditional = state.last_full_at is not None and now - state.last_full_at < FULL_FETCH_EVERY
        response = await self._runner.meter.measure(
            "poll",
            poll_feed(
                self._http,
                state.resolved_url or feed.url,
                state.validators,
                max_bytes=self._settings.http.max_feed_bytes,
                conditional=conditional,
                trusted=(child_of or feed).url,
            ),
            feed.url,
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
            if state.children and child_of is None:
                return await self._poll_children(feed, state.children, report)
            return report
        if self._archive is not None:
            self._archive.put(
                Capture(
                    "feed", response.url, feed.url, response.status, response.content_type, response.body, now
                )
            )
        try:
            document = await self._runner.meter.measure(
                "parse", self._parse(response, feed, child_of is None), feed.url
            )
        except IngestError as exc:
            if exc.reason != "html_not_feed" or state.resolved_url is not None:
                raise
            return await self._discover(feed, state, response, exc)
        self._metrics.feed_polls.labels("modified").inc()
        if isinstance(document, SitemapIndex):
            indexed = _succeeded(fetched, now, response.validators, 0)
            await self._save(replace(indexed, body_hash=response.body_hash, children=document.recent))
            report = PollReport(feed.url, "modified", hint_s=response.hint_s)
            return await self._poll_children(feed, document.recent, report)
        return await self._carry(feed, state, fetched, now, response, document)

    async def _carry(
        self,
        feed: FeedConfig,
        state: FeedState,
        fetched: FeedState,
        now: datetime,
        response: FeedResponse,
        document: FeedDocument,
    ) -> PollReport:
        entries = document.entries
        self._metrics.feed_entries.inc(len(entries))
        for reason, count in document.skipped.items():
            self._metrics.feed_entries_skipped.labels(reason).inc(count)
        if document.skipped:
            log.info(
                "%s: %d items skipped (%s)",
                feed.url,
                sum(document.skipped.values()),
                ", ".join(f"{reason}: {n}" for reason, n in sorted(document.skipped.items())),
                extra={"feed": feed.url},
            )
        seen = await self._state.seen_keys([e.key for e in entries])
        unseen = [e for e in entries if e.key not in seen]
        new = list({e.key: e for e in unseen}.values())  # a key listed twice is one entry
        self._runner.dropped("claim", "already_seen", len(entries) - len(unseen))
        self._runner.dropped("claim", "duplicate_url", len(unseen) - len(new))
        # At most max_entries_per_poll new entries per poll; the rest wait for the next poll, which
        # comes soon because the validators do not advance while a backlog remains.
        cap = self._settings.pipeline.max_entries_per_poll
        batch, backlog = new[:cap], len(new[cap:])
        if backlog:
            log.info("%s: %d new entries; processing %d now, the rest next poll", feed.url, len(new), cap)
        origin = PollBatch(len(batch))
        outcomes = tuple(await asyncio.gather(*(self._runner.run(e, origin) for e in batch)))
        complete = not backlog and origin.complete
        done = _succeeded(fetched, now, response.validators if complete else state.validators, len(batch))
        await self._save(replace(done, body_hash=response.body_hash if complete else state.body_hash))
        return PollReport(
            feed.url, "modified", outcomes, backlog=backlog, hint_s=response.hint_s, new_entries=len(new)
        )

    async def _discover(
        self, feed: FeedConfig, state: FeedState, response: FeedResponse, error: IngestError
    ) -> PollReport:
        """The configured URL is a web page: poll the feed it announces, from now on."""
        links = await self._workers.run(feed_links, response.body, response.url)
        if not links:
            raise error
        log.info("%s is a web page; polling the feed it announces, %s", feed.url, links[0][0])
        await self._save(replace(state, resolved_url=links[0][0], validators=Validators()))
        return await self.poll(feed)

    async def _poll_children(
        self, feed: FeedConfig, children: tuple[str, ...], report: PollReport
    ) -> PollReport:
        """Poll a sitemap index's child sitemaps (no deeper: an index inside an index is an error)
        and fold their reports into the index's."""
        subfeeds = [FeedConfig(url=url, name=feed.name, tags=feed.tags) for url in children]
        reports = await asyncio.gather(*(self.poll(sub, child_of=feed) for sub in subfeeds))
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
    ) -> FeedDocument | SitemapIndex:
        """The feed's entries, or (where indexes are followed) the sitemap index it turned out to be."""
        try:
            return await self._workers.run(
                read_feed,
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

    async def _failed(
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
        try:
            await self._save(failed)
        except StateUnavailable as down:
            return self._state_down(feed, down)
        return PollReport(
            feed.url,
            "error",
            error=exc.reason,
            consecutive_errors=failed.consecutive_errors,
            retry_after=getattr(exc, "retry_after", None),
            gone=failed.gone,
        )

    def _state_down(self, feed: FeedConfig, exc: StateUnavailable) -> PollReport:
        """The state store did not answer: nothing could be read or saved. The feed is polled again
        after its first backoff step."""
        log.warning("poll of %s not done: %s", feed.url, exc, extra={"feed": feed.url, "reason": exc.reason})
        self._metrics.feed_polls.labels("error").inc()
        self._metrics.feed_poll_errors.labels(exc.reason).inc()
        return PollReport(feed.url, "error", error=exc.reason, consecutive_errors=1)


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
