"""The runner: carries one item through a chain of stages, and is its one error boundary.

For every item it is the one place that
- times each stage and counts what went in, came out, was dropped (by reason) or failed (by reason);
- turns *any* exception of the item into the item's outcome: a ``TransientError`` defers it (it
  comes back: its feed's next poll, or its link retried), a ``PermanentError`` or an exception
  nobody translated (a bug: ``internal``, with the exception's type) sends it to the dead-letter
  topic; only ``FatalError`` goes on up, to stop the service. Never the poll, never the process;
- commits: once the tail is acknowledged, or the item was dropped or dead-lettered, the ticket is
  written to the state store in one step and the item's origin is told.

Backpressure: an item takes its host's lane (at most ``max_connections_per_host`` items per host,
queued outside) and then a room (at most ``max_articles_in_flight`` items inside), and lets go of the
lane once fetched, so a slow or Crawl-delayed host's queue never holds the rooms others could use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ingest.config import PipelineSettings
from ingest.errors import FatalError, IngestError, InternalError, PermanentError, TransientError
from ingest.metrics import Metrics
from ingest.models import Drop, FeedEntry, Origin, Outcome, Ticket
from ingest.net.hosts import HostGate
from ingest.pipeline import Chain, Stage
from ingest.stages.publish import Sink, dead_letter
from ingest.state import StateStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class StageMeter:
    """Times a stage's call and counts its outcome: in, out, dropped by reason, errors by reason,
    in progress, duration, last success. Any exception that is not an ``IngestError`` becomes an
    ``InternalError`` here, once, with its traceback logged."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def dropped(self, stage: str, reason: str, count: int = 1) -> None:
        if count:
            self._metrics.stage_dropped.labels(stage, reason).inc(count)

    async def measure(self, name: str, call: Awaitable[T], what: str | None = None) -> T:
        m = self._metrics
        m.stage_items_in.labels(name).inc()
        m.stage_in_progress.labels(name).inc()
        started = time.monotonic()
        try:
            result = await call
        except IngestError as exc:
            exc.stage = exc.stage or name
            m.stage_errors.labels(name, exc.reason).inc()
            raise
        except Exception as exc:  # a bug, ours or a library's: this item's, nobody else's
            error = InternalError.wrap(exc, url=what)
            error.stage = name
            m.stage_errors.labels(name, error.reason).inc()
            log.error("internal error at %s on %s", name, what, exc_info=exc)
            raise error from exc
        finally:
            m.stage_in_progress.labels(name).dec()
            m.stage_duration.labels(name).observe(time.monotonic() - started)
        if isinstance(result, Drop):
            m.stage_dropped.labels(name, result.reason).inc()
        else:
            m.stage_items_out.labels(name).inc()
            m.stage_last_success.labels(name).set(time.time())
        return result


class Runner:
    def __init__(
        self,
        chain: Chain,
        *,
        state: StateStore,
        sink: Sink,
        metrics: Metrics,
        settings: PipelineSettings,
        lanes_per_host: int,
    ) -> None:
        self._chain = chain
        self._stages: tuple[Stage[Any, Any], ...] = (*chain.stages, chain.tail)
        self._state = state
        self._sink = sink
        self._metrics = metrics
        self._room = asyncio.Semaphore(settings.max_articles_in_flight)
        self.meter = StageMeter(metrics)
        self._lanes = HostGate(lanes_per_host, 0.0, 0.0) if chain.lane_until else None

    def dropped(self, stage: str, reason: str, count: int = 1) -> None:
        """Count items a head filtered out before they became items (seen in a batch, unreadable)."""
        self.meter.dropped(stage, reason, count)

    async def run(self, entry: FeedEntry, origin: Origin) -> Outcome:
        """Carry ``entry`` to the end of the chain and commit it. Never raises but ``FatalError``
        (and ``CancelledError``)."""
        started = time.monotonic()
        ticket = Ticket(origin)
        committed = False
        try:
            async with contextlib.AsyncExitStack() as lane:
                if self._lanes is not None:
                    await lane.enter_async_context(self._lanes.slot(_host(entry.link)))
                async with self._room:
                    outcome = await self._carry(entry, ticket, lane)
                    committed = outcome.terminal
        finally:
            for release in ticket.holds:
                release(committed)
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

    async def _carry(self, entry: FeedEntry, ticket: Ticket, lane: contextlib.AsyncExitStack) -> Outcome:
        try:
            try:
                outcome = await self._through(entry, ticket, lane)
            except (FatalError, TransientError):
                raise
            except PermanentError as exc:
                outcome = await self._dead_letter(entry, ticket, exc)
            await self._commit(ticket)
        except FatalError:
            raise
        except TransientError as exc:  # the item, its dead letter or its commit: later
            log.warning("deferred %s: %s", entry.link or entry.key, exc, extra=_fields(entry, exc))
            return Outcome("deferred", f"{exc.stage or 'commit'}:{exc.reason}")
        return outcome

    async def _through(self, entry: FeedEntry, ticket: Ticket, lane: contextlib.AsyncExitStack) -> Outcome:
        item: Any = entry
        for stage in self._stages:
            item = await self._timed(stage, item, ticket, entry)
            if isinstance(item, Drop):
                return Outcome("dropped", item.reason)
            if stage.name == self._chain.lane_until:
                await lane.aclose()
        return Outcome(self._chain.tail.outcome)

    async def _timed(self, stage: Stage[Any, Any], item: Any, ticket: Ticket, entry: FeedEntry) -> Any:
        return await self.meter.measure(stage.name, stage(item, ticket), entry.link or entry.key)

    async def _dead_letter(self, entry: FeedEntry, ticket: Ticket, error: PermanentError) -> Outcome:
        stage = error.stage or "process"
        log.warning("dead letter (%s at %s): %s", error.reason, stage, error, extra=_fields(entry, error))
        try:
            await self._sink.dead_letter(dead_letter(entry, error, stage))
        except TransientError as exc:
            exc.stage = "dead_letter"
            raise
        except FatalError:
            raise
        except Exception as exc:  # the dead letter itself cannot be sent: said loudly, then dropped
            log.error("dead letter of %s could not be sent", entry.link or entry.key, exc_info=exc)
            ticket.key = entry.key
            return Outcome("dropped", "dead_letter_failed")
        self._metrics.dead_letters.labels(error.reason).inc()
        ticket.key = entry.key  # done with: not carried again
        return Outcome("dead_lettered", error.reason)

    async def _commit(self, ticket: Ticket) -> None:
        """The one commit step: what the item's stages took responsibility for, after the ack."""
        if ticket.key is not None:
            await self._state.record([ticket.key], ticket.article_id, ticket.content_hash)
        ticket.origin.committed()


def _fields(entry: FeedEntry, error: IngestError | None) -> dict[str, Any]:
    """Structured log fields of an entry and what went wrong with it."""
    found: dict[str, Any] = {"feed": entry.feed_url, "url": entry.link}
    if error is not None:
        found |= {"stage": error.stage, "error": type(error).__name__, "reason": error.reason}
    return found


def _host(link: str | None) -> str:
    try:
        return (urlsplit(link).hostname or "") if link else ""
    except ValueError:  # an unparseable link: its fetch fails, in no host's lane
        return ""
