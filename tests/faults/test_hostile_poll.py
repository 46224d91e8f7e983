"""Property: whatever a feed and its pages hold, a poll ends, and every entry with it.

Hypothesis writes a feed (hostile titles, links, summaries, character references to what is not a
character, raw bytes) and its pages (lone surrogates in JSON-LD, binary bodies served as HTML, wrong
charsets, error statuses, walls), served from a loopback server; one whole poll of the real feed
cycle runs through the real chain, worker pool and HTTP client, into an in-memory sink with the
producer's contract. Then: nothing escaped the poll; no outcome is ``internal`` (a bug); every entry
the feed held is published, dropped, dead-lettered or (for a cause a retry may cure) deferred; every
message on the topics is valid UTF-8 JSON of its schema; nothing was requested of another loopback
address (a trap listens there).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.config import FeedConfig, Settings
from ingest.metrics import Metrics
from ingest.models import Article, DeadLetter
from ingest.net import AddressPolicy, HttpClient
from ingest.pipeline import article_chain
from ingest.runner import Runner
from ingest.source.cycle import FeedCycle
from ingest.source.parser import read_feed
from ingest.stages.publish import Sink
from ingest.state import SqliteStateStore
from ingest.workers import WorkerPool
from tests.support.memory import MemorySender

BAD_REFS = [
    "&#xD800;",
    "&#xDFFF;",
    "&#0;",
    "&#x1F;",
    "&#xFFFE;",
    "&#x110000;",
    "&#99999999;",
    "&#xD83D;&#xDE00;",
]
TRANSIENT = {"timeout", "connection", "dns", "http_5xx", "http_429", "robots_unreachable", "duplicate_failed"}


def _text_bytes() -> st.SearchStrategy[bytes]:
    """Text as a feed may carry it: any characters, bad character references, raw bytes."""
    piece = st.one_of(
        st.text(max_size=40).map(lambda t: escape(t).encode("utf-8", "surrogatepass")),
        st.sampled_from(BAD_REFS).map(str.encode),
        st.binary(max_size=8).map(lambda b: b.replace(b"&", b"&amp;").replace(b"<", b"&lt;")),
    )
    return st.lists(piece, max_size=6).map(b"".join)


@dataclass(frozen=True)
class Item:
    link: str | None  # a template: {base} and {port} are filled in
    guid: bytes | None
    title: bytes
    summary: bytes | None
    enclosure: bool


LINKS = st.one_of(
    st.integers(0, 4).map(lambda n: "{base}/p/" + str(n)),
    st.sampled_from(
        [
            "http://news..example.com/a",
            "http://" + "a" * 64 + ".example.com/",
            "http://xn--a/",
            "http://127.0.0.2:{port}/p/0",
            "http://10.0.0.1/admin",
            "http://[::1]:{port}/p/0",
            "http://localhost:{port}/p/0",
            "http://127.0.0.1:25/",
            "javascript:alert(1)",
            "{base}/p/0?q=" + "x" * 100_000,
            "{base}/p/1#frag",
            "  {base}/p/2  ",
        ]
    ),
)
ITEMS = st.builds(
    Item,
    link=st.none() | LINKS,
    guid=st.none() | _text_bytes(),
    title=_text_bytes(),
    summary=st.none() | _text_bytes(),
    enclosure=st.booleans(),
)


@dataclass(frozen=True)
class Page:
    status: int
    content_type: str
    body: bytes


PAGE_BODIES = st.one_of(
    st.builds(
        lambda title, text, ref: (
            f"<html><head><title>{escape(title)}</title>"
            '<script type="application/ld+json">{"@type":"NewsArticle","headline":"a\\ud800'
            + escape(title)
            + '","author":{"name":"b\\udfff"},"datePublished":"2026-02-30T99:00:00Z"}</script>'
            f'<meta property="og:site_name" content="S{ref}"></head>'
            f"<body><article><p>{escape(text)}</p></article></body></html>"
        ).encode(),
        st.text(max_size=30),
        st.text(min_size=0, max_size=800),
        st.sampled_from(BAD_REFS),
    ),
    st.binary(max_size=300),
    st.just(b"%PDF-1.7\n" + bytes(range(256)) * 4),
    st.just(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
)
PAGES = st.builds(
    Page,
    status=st.sampled_from([200, 200, 200, 200, 404, 410, 500, 302]),
    content_type=st.sampled_from(
        ["text/html", "text/html; charset=utf-8", "text/html; charset=bogus", "application/pdf", ""]
    ),
    body=PAGE_BODIES,
)
ROBOTS = st.sampled_from(
    [(200, b"User-agent: *\nAllow: /\n"), (404, b""), (503, b""), (200, b"\x00\xff garbage")]
)


def _feed(items: list[Item], base: str, port: int) -> bytes:
    parts = [b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>F</title>"]
    for item in items:
        parts.append(b"<item><title>" + item.title + b"</title>")
        if item.link is not None:
            link = item.link.format(base=base, port=port)
            parts.append(b"<link>" + escape(link).encode() + b"</link>")
        if item.guid is not None:
            parts.append(b"<guid isPermaLink='false'>" + item.guid + b"</guid>")
        if item.summary is not None:
            parts.append(b"<description>" + item.summary + b"</description>")
        if item.enclosure:
            parts.append(b"<enclosure url='" + base.encode() + b"/ep.mp3' type='audio/mpeg' length='1'/>")
        parts.append(b"</item>")
    parts.append(b"</channel></rss>")
    return b"".join(parts)


@dataclass
class Served:
    feed: bytes = b""
    pages: list[Page] = field(default_factory=list)
    robots: tuple[int, bytes] = (404, b"")


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(2, task_timeout_s=20, memory_limit_bytes=1024 * 1024 * 1024)
    asyncio.run(workers.start())
    try:
        yield workers
    finally:
        asyncio.run(workers.close())


async def _serve(served: Served) -> web.AppRunner:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=served.feed, content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        index = int(request.match_info["n"])
        chosen = served.pages[index % len(served.pages)] if served.pages else Page(404, "text/html", b"")
        if chosen.status == 302:
            raise web.HTTPFound(f"/account/login?next=/p/{index}")
        headers = {"Content-Type": chosen.content_type} if chosen.content_type else {}
        return web.Response(status=chosen.status, body=chosen.body, headers=headers)

    async def robots(request: web.Request) -> web.Response:
        return web.Response(status=served.robots[0], body=served.robots[1], content_type="text/plain")

    async def login(request: web.Request) -> web.Response:
        return web.Response(text="<html><body><p>Please log in.</p></body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/feed.rss", feed)
    app.router.add_get("/p/{n}", page)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/account/login", login)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def _trap(port: int, hits: list[str]) -> web.AppRunner:
    """The same port on 127.0.0.2, which the guard must refuse: any request it sees is a hole."""

    async def anything(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="<html><body><p>internal</p></body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", anything)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.2", port).start()
    return runner


async def _one_poll(
    pool: WorkerPool, items: list[Item], pages: list[Page], robots: tuple[int, bytes]
) -> None:
    served = Served(pages=pages, robots=robots)
    server = await _serve(served)
    port = server.addresses[0][1]
    trapped: list[str] = []
    trap = await _trap(port, trapped)
    base = f"http://127.0.0.1:{port}"
    served.feed = _feed(items, base, port)
    config = Settings(
        http={
            "allow_private_networks": ["127.0.0.1/32"],
            "retries": 0,
            "min_host_delay_s": 0,
            "total_timeout_s": 5,
            "max_page_bytes": 200_000,
        },
    )
    sender, metrics, state = MemorySender(), Metrics(), SqliteStateStore(":memory:")
    sink = Sink(sender, "articles", "dlq")
    try:
        async with HttpClient(config.http, AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))) as http:
            chain = article_chain(
                config, state=state, http=http, workers=pool, sink=sink, metrics=metrics,
                acknowledged=lambda article: None, linked=False,
            )  # fmt: skip
            runner = Runner(
                chain, state=state, sink=sink, metrics=metrics, settings=config.pipeline, lanes_per_host=4
            )
            cycle = FeedCycle(config, http=http, state=state, workers=pool, metrics=metrics, runner=runner)
            report = await cycle.poll(FeedConfig(url=base + "/feed.rss"))
    finally:
        await state.close()
        await server.cleanup()
        await trap.cleanup()

    assert trapped == []
    assert report.error != "internal", report
    reasons = [o.reason or "" for o in report.outcomes]
    assert not any("internal" in r for r in reasons), reasons
    for outcome in report.outcomes:
        if outcome.kind == "deferred":
            assert outcome.reason is not None
            assert outcome.reason.split(":", 1)[1] in TRANSIENT, outcome
    for value in sender.values("articles"):
        Article.model_validate_json(value.decode("utf-8"))
    for value in sender.values("dlq"):
        letter = DeadLetter.model_validate_json(value.decode("utf-8"))
        assert letter.reason != "internal", letter
    if report.result == "modified":
        document = read_feed(
            served.feed,
            feed_url=base + "/feed.rss",
            base_url=base + "/feed.rss",
            content_type=None,
            max_entries=10,
        )
        keys = {e.key for e in document.entries}
        assert len(report.outcomes) == len(keys)  # every entry ends, one outcome per key
        assert len(document.entries) + sum(document.skipped.values()) <= len(items)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    items=st.lists(ITEMS, min_size=1, max_size=5),
    pages=st.lists(PAGES, min_size=1, max_size=5),
    robots=ROBOTS,
)
def test_a_hostile_feed_and_its_pages_never_escape_the_poll(
    pool: WorkerPool, items: list[Item], pages: list[Page], robots: tuple[int, bytes]
) -> None:
    asyncio.run(_one_poll(pool, items, pages, robots))
