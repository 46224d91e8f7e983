"""The runner: one item through a chain of stages, its one error boundary and its one commit.

Stages here are small stand-ins; the state store is SQLite (in memory), the sink an in-memory
sender with the producer's contract."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ingest.config import PipelineSettings
from ingest.errors import (
    FatalError,
    FetchTimeout,
    NoContent,
    PublishTimeout,
    StateUnavailable,
)
from ingest.metrics import Metrics
from ingest.models import Drop, FeedEntry, OutcomeKind, Ticket
from ingest.pipeline import Chain
from ingest.runner import Runner
from ingest.stages.publish import Sink
from ingest.state import SqliteStateStore
from tests.support.memory import MemorySender
from tests.unit.factories import Counted, make_entry

DLQ = "articles.dlq"


@dataclass
class Step:
    """A stage that does what it is told: pass the item on, drop it, raise, or wait."""

    name: str
    does: Callable[[Any, Ticket], Any] = lambda item, ticket: item
    gate: asyncio.Event | None = None
    seen: list[Any] = field(default_factory=list)

    async def __call__(self, item: Any, ticket: Ticket, /) -> Any:
        self.seen.append(item)
        if self.gate is not None:
            await self.gate.wait()
        return self.does(item, ticket)


@dataclass
class End(Step):
    outcome: OutcomeKind = "published"


def claims(item: FeedEntry, ticket: Ticket) -> FeedEntry:
    ticket.key = item.key
    ticket.article_id = "article-1"
    return item


def raises(error: BaseException) -> Callable[[Any, Ticket], Any]:
    def stage(item: Any, ticket: Ticket) -> Any:
        raise error

    return stage


@pytest.fixture
async def state() -> AsyncIterator[SqliteStateStore]:
    store = SqliteStateStore(":memory:")
    try:
        yield store
    finally:
        await store.close()


@dataclass
class Harness:
    runner: Runner
    state: SqliteStateStore
    sender: MemorySender
    metrics: Metrics

    def count(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


def harness(
    state: SqliteStateStore, *stages: Step, lane_until: str | None = None, in_flight: int = 64
) -> Harness:
    sender, metrics = MemorySender(), Metrics()
    *middle, tail = stages
    assert isinstance(tail, End)
    runner = Runner(
        Chain(tuple(middle), tail, lane_until=lane_until),
        state=state,
        sink=Sink(sender, "articles", DLQ),
        metrics=metrics,
        settings=PipelineSettings(max_articles_in_flight=in_flight),
        lanes_per_host=1,
    )
    return Harness(runner, state, sender, metrics)


async def test_an_item_that_reaches_the_tail_is_committed_once_acknowledged(state: SqliteStateStore) -> None:
    entry = make_entry()
    h = harness(state, Step("claim", claims), End("publish"))
    origin = Counted()
    outcome = await h.runner.run(entry, origin)
    assert (outcome.kind, outcome.terminal) == ("published", True)
    assert await state.seen_keys([entry.key]) == {entry.key}
    assert origin.count == 1
    for stage in ("claim", "publish"):
        assert h.count("ingest_stage_items_in_total", stage=stage) == 1
        assert h.count("ingest_stage_items_out_total", stage=stage) == 1
    assert h.count("ingest_entries_processed_total", outcome="published") == 1


async def test_a_drop_ends_the_item_and_commits_what_it_took_on(state: SqliteStateStore) -> None:
    entry = make_entry()
    tail = End("publish")
    h = harness(state, Step("claim", claims), Step("dedup", lambda i, t: Drop("duplicate_content")), tail)
    outcome = await h.runner.run(entry, Counted())
    assert (outcome.kind, outcome.reason) == ("dropped", "duplicate_content")
    assert tail.seen == []
    assert await state.seen_keys([entry.key]) == {entry.key}  # done with: not carried again
    assert h.count("ingest_stage_items_dropped_total", stage="dedup", reason="duplicate_content") == 1


async def test_a_drop_before_the_key_was_claimed_records_nothing(state: SqliteStateStore) -> None:
    entry = make_entry()
    h = harness(state, Step("claim", lambda i, t: Drop("already_seen")), End("publish"))
    origin = Counted()
    assert (await h.runner.run(entry, origin)).kind == "dropped"
    assert await state.seen_keys([entry.key]) == set()
    assert origin.count == 1  # still terminal: the poll may move on


async def test_a_transient_error_defers_the_item_and_commits_nothing(state: SqliteStateStore) -> None:
    entry = make_entry()
    released: list[bool] = []

    def holds_then_times_out(item: FeedEntry, ticket: Ticket) -> Any:
        ticket.holds.append(released.append)
        raise FetchTimeout("request deadline passed")

    h = harness(state, Step("claim", claims), Step("fetch", holds_then_times_out), End("publish"))
    origin = Counted()
    outcome = await h.runner.run(entry, origin)
    assert (outcome.kind, outcome.reason, outcome.terminal) == ("deferred", "fetch:timeout", False)
    assert await state.seen_keys([entry.key]) == set()
    assert origin.count == 0
    assert released == [False]  # what it held in flight is let go, as not committed
    assert h.sender.topics == {}
    assert h.count("ingest_stage_errors_total", stage="fetch", reason="timeout") == 1


async def test_a_permanent_error_is_dead_lettered_and_committed(state: SqliteStateStore) -> None:
    entry = make_entry()
    error = NoContent("no text on the page (http_404) and none in the feed")
    h = harness(state, Step("claim", claims), Step("extract", raises(error)), End("publish"))
    origin = Counted()
    outcome = await h.runner.run(entry, origin)
    assert (outcome.kind, outcome.reason) == ("dead_lettered", "no_content")
    (letter,) = [json.loads(v) for v in h.sender.values(DLQ)]
    assert (letter["key"], letter["reason"], letter["stage"]) == (entry.key, "no_content", "extract")
    assert await state.seen_keys([entry.key]) == {entry.key}
    assert origin.count == 1


async def test_an_untranslated_exception_is_this_items_dead_letter_not_the_services(
    state: SqliteStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    entry = make_entry()
    h = harness(state, Step("claim", claims), Step("normalise", raises(KeyError("body"))), End("publish"))
    with caplog.at_level(logging.ERROR, logger="ingest.runner"):
        outcome = await h.runner.run(entry, Counted())
    assert (outcome.kind, outcome.reason) == ("dead_lettered", "internal")
    (letter,) = [json.loads(v) for v in h.sender.values(DLQ)]
    assert letter["reason"] == "internal"
    assert letter["error"].startswith("KeyError: 'body'")
    assert h.count("ingest_stage_errors_total", stage="normalise", reason="internal") == 1
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1  # logged once, with its traceback, for whoever fixes the bug


async def test_a_fatal_error_goes_on_up(state: SqliteStateStore) -> None:
    h = harness(state, Step("claim", raises(FatalError("broker refused us"))), End("publish"))
    with pytest.raises(FatalError):
        await h.runner.run(make_entry(), Counted())


async def test_a_dead_letter_that_cannot_be_sent_defers_the_item(state: SqliteStateStore) -> None:
    entry = make_entry()
    h = harness(state, Step("claim", claims), Step("extract", raises(NoContent("none"))), End("publish"))
    h.sender.available = False
    outcome = await h.runner.run(entry, Counted())
    assert (outcome.kind, outcome.reason) == ("deferred", "dead_letter:publish_timeout")
    assert await state.seen_keys([entry.key]) == set()


async def test_a_commit_that_cannot_be_written_defers_the_item(state: SqliteStateStore) -> None:
    entry = make_entry()

    async def refuse(*args: Any) -> None:
        raise StateUnavailable("Redis state store: connection refused")

    h = harness(state, Step("claim", claims), End("publish"))
    state.record = refuse  # type: ignore[method-assign]
    origin = Counted()
    outcome = await h.runner.run(entry, origin)
    assert (outcome.kind, outcome.reason) == ("deferred", "commit:state_unavailable")
    assert origin.count == 0


async def test_an_unacknowledged_tail_is_a_deferral(state: SqliteStateStore) -> None:
    h = harness(state, Step("claim", claims), End("publish", raises(PublishTimeout("no ack"))))
    outcome = await h.runner.run(make_entry(), Counted())
    assert (outcome.kind, outcome.reason) == ("deferred", "publish:publish_timeout")


async def test_the_host_lane_is_let_go_after_its_stage(state: SqliteStateStore) -> None:
    """One item per host in the lane: the second enters once the first is past the fetch."""
    later = asyncio.Event()
    fetch = Step("fetch")
    h = harness(state, Step("claim"), fetch, Step("extract", gate=later), End("publish"), lane_until="fetch")
    first = asyncio.create_task(h.runner.run(make_entry(link="https://a.example/1"), Counted()))
    second = asyncio.create_task(h.runner.run(make_entry(link="https://a.example/2"), Counted()))
    for _ in range(100):
        if len(fetch.seen) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(fetch.seen) == 2  # both fetched while the first still waits in extract
    later.set()
    assert [o.kind for o in await asyncio.gather(first, second)] == ["published", "published"]


async def test_items_in_flight_are_bounded(state: SqliteStateStore) -> None:
    gate = asyncio.Event()
    claim = Step("claim", gate=gate)
    h = harness(state, claim, End("publish"), in_flight=2)
    tasks = [
        asyncio.create_task(h.runner.run(make_entry(link=f"https://h{n}.example/"), Counted()))
        for n in range(5)
    ]
    await asyncio.sleep(0.05)
    assert len(claim.seen) == 2  # the others wait outside
    gate.set()
    assert len(await asyncio.gather(*tasks)) == 5
