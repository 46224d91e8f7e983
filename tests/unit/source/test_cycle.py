"""The feed cycle over a loopback server: what a poll saves, and that nothing escapes it.

The worker pool is replaced by calls in this process (the pool itself has tests of its own); the
state store is SQLite in memory, the sink an in-memory sender with the producer's contract."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ingest.config import FeedConfig, Settings
from ingest.errors import StateUnavailable
from ingest.metrics import Metrics
from ingest.net import AddressPolicy, HttpClient
from ingest.pipeline import article_chain
from ingest.runner import Runner
from ingest.source import cycle as cycle_module
from ingest.source.cycle import FeedCycle
from ingest.stages.publish import Sink
from ingest.state import SqliteStateStore
from tests.support.memory import MemorySender

PAGE = "<html><body><article><p>" + "The council met and agreed the harbour plan today. " * 30
PAGE += "</p></article></body></html>"


class InProcess:
    """The worker pool's interface, run here: enough to test what the cycle does with results."""

    async def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)


@dataclass
class Served:
    base: str = ""
    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def rss(self, *paths: str) -> bytes:
        items = "".join(f"<item><title>{p}</title><link>{self.base}{p}</link></item>" for p in paths)
        head = "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        return f"{head}{items}</channel></rss>".encode()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    state = Served()

    async def answer(request: web.Request) -> web.Response:
        state.requests.append(request.path)
        status, content_type, body = state.routes.get(request.path, (404, "text/html", b"not here"))
        return web.Response(status=status, body=body, headers={"Content-Type": content_type, "ETag": '"e1"'})

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


@dataclass
class Cycle:
    cycle: FeedCycle
    state: SqliteStateStore
    sender: MemorySender


@pytest.fixture
async def cycle() -> AsyncIterator[Cycle]:
    http_settings = {"allow_private_networks": ["127.0.0.1/32"], "retries": 0, "min_host_delay_s": 0}
    settings = Settings(http={**http_settings, "robots_txt": False})
    state, sender, metrics = SqliteStateStore(":memory:"), MemorySender(), Metrics()
    sink = Sink(sender, "articles", "dlq")
    workers: Any = InProcess()
    async with HttpClient(settings.http, AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))) as http:
        chain = article_chain(
            settings,
            state=state,
            http=http,
            workers=workers,
            sink=sink,
            metrics=metrics,
            acknowledged=lambda article: None,
            linked=False,
        )
        runner = Runner(
            chain, state=state, sink=sink, metrics=metrics, settings=settings.pipeline, lanes_per_host=4
        )
        feeds = FeedCycle(settings, http=http, state=state, workers=workers, metrics=metrics, runner=runner)
        yield Cycle(feeds, state, sender)
    await state.close()


async def test_validators_advance_only_when_every_entry_was_committed(served: Served, cycle: Cycle) -> None:
    served.routes["/feed.rss"] = (200, "application/rss+xml", served.rss("/a.html", "/b.html"))
    served.routes["/a.html"] = (200, "text/html", PAGE.encode())
    served.routes["/b.html"] = (503, "text/html", b"busy")  # no feed text: deferred
    feed = FeedConfig(url=served.base + "/feed.rss")
    report = await cycle.cycle.poll(feed)
    assert sorted(o.kind for o in report.outcomes) == ["deferred", "published"]
    assert (await cycle.state.feed_state(feed.url)).validators.etag is None  # the poll is not done
    served.routes["/b.html"] = (200, "text/html", PAGE.replace("harbour", "tram").encode())
    again = await cycle.cycle.poll(feed)
    assert [o.kind for o in again.outcomes] == ["published"]  # the one left, and only it
    assert (await cycle.state.feed_state(feed.url)).validators.etag == '"e1"'


async def test_a_bug_in_one_poll_fails_that_poll_alone(
    served: Served, cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.routes["/feed.rss"] = (200, "application/rss+xml", served.rss("/a.html"))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("entries")

    monkeypatch.setattr(cycle_module, "read_feed", broken)
    feed = FeedConfig(url=served.base + "/feed.rss")
    report = await cycle.cycle.poll(feed)
    assert (report.result, report.error, report.consecutive_errors) == ("error", "internal", 1)
    saved = await cycle.state.feed_state(feed.url)
    assert saved.last_error_reason == "internal"
    assert "KeyError" in (saved.last_error or "")


async def test_a_state_store_that_does_not_answer_is_the_polls_result(
    served: Served, cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: Any) -> Any:
        raise StateUnavailable("Redis state store: connection refused")

    monkeypatch.setattr(cycle.state, "feed_state", down)
    report = await cycle.cycle.poll(FeedConfig(url=served.base + "/feed.rss"))
    assert (report.result, report.error, report.consecutive_errors) == ("error", "state_unavailable", 1)
    assert served.requests == []


async def test_a_child_sitemap_on_another_port_is_not_polled(served: Served, cycle: Cycle) -> None:
    """A child's URL comes from the index, not from the operator: its port is not trusted."""
    index = (
        "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"<sitemap><loc>{served.base}/news.xml</loc></sitemap>"
        "<sitemap><loc>http://127.0.0.1:6379/</loc></sitemap></sitemapindex>"
    )
    served.routes["/index.xml"] = (200, "application/xml", index.encode())
    urlset = (
        "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"<url><loc>{served.base}/a.html</loc></url></urlset>"
    )
    served.routes["/news.xml"] = (200, "application/xml", urlset.encode())
    served.routes["/a.html"] = (200, "text/html", PAGE.encode())
    report = await cycle.cycle.poll(FeedConfig(url=served.base + "/index.xml"))
    assert [o.kind for o in report.outcomes] == ["published"]
    child = await cycle.state.feed_state("http://127.0.0.1:6379/")
    assert child.last_error_reason == "blocked_port"


async def test_items_that_are_not_entries_are_counted_and_the_others_carried(
    served: Served, cycle: Cycle
) -> None:
    feed_xml = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        f"<item><title>Story</title><link>{served.base}/a.html</link></item>"
        "<item><title>Episode</title>"
        "<enclosure url='http://a.example/1.mp3' type='audio/mpeg' length='1'/></item>"
        "<item><title>Nothing to know it by</title></item></channel></rss>"
    )
    served.routes["/feed.rss"] = (200, "application/rss+xml", feed_xml.encode())
    served.routes["/a.html"] = (200, "text/html", PAGE.encode())
    metrics = cycle.cycle._metrics
    report = await cycle.cycle.poll(FeedConfig(url=served.base + "/feed.rss"))
    assert [o.kind for o in report.outcomes] == ["published"]
    skipped = {
        reason: metrics.registry.get_sample_value("ingest_feed_entries_skipped_total", {"reason": reason})
        for reason in ("enclosure_only", "no_identity")
    }
    assert skipped == {"enclosure_only": 1.0, "no_identity": 1.0}


def test_feed_health_says_when_every_feed_polled_is_failing() -> None:
    from prometheus_client import CollectorRegistry

    from ingest.source.cycle import FeedHealth
    from ingest.state import FeedState

    metrics = Metrics(CollectorRegistry())
    health = FeedHealth(metrics)
    assert health.all_failing() == 0  # nothing polled yet
    health.update(FeedState(url="https://a.example/rss", consecutive_errors=1))
    health.update(FeedState(url="https://b.example/rss", consecutive_errors=2))
    assert health.all_failing() == 0  # one is only backing off
    health.update(FeedState(url="https://a.example/rss", consecutive_errors=2))
    assert health.all_failing() == 2
    assert metrics.registry.get_sample_value("ingest_feeds", {"state": "failing"}) == 2
    health.update(FeedState(url="https://b.example/rss"))
    assert health.all_failing() == 0
    assert metrics.registry.get_sample_value("ingest_feeds", {"state": "ok"}) == 1
