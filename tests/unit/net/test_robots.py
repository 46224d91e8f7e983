"""robots.txt: the rules (RFC 9309 plus Crawl-delay) and the per-origin cache over a real server."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from ingest.config import HttpSettings
from ingest.errors import Disallowed, RobotsUnavailable
from ingest.metrics import Metrics
from ingest.net import AddressPolicy, HttpClient
from ingest.net.robots import (
    ALLOW_ALL,
    MAX_BYTES,
    UNREACHABLE_RETRY_S,
    Robots,
    RobotsRules,
    parse_robots,
    product_token,
)

EXAMPLE = """
# A typical news site
User-agent: *
Disallow: /search
Disallow: /private/
Allow: /private/press/
Disallow: /*.pdf$
Crawl-delay: 2

User-agent: ingest
User-agent: otherbot
Disallow: /drafts/
Crawl-delay: 5

Sitemap: https://news.example/sitemap.xml
"""


def test_our_group_applies_and_not_the_star_group() -> None:
    rules = parse_robots(EXAMPLE, "ingest")
    assert not rules.allowed("/drafts/one")
    assert rules.allowed("/search?q=x")  # only the star group forbids it
    assert rules.crawl_delay == 5


def test_without_a_group_of_our_own_the_star_group_applies() -> None:
    rules = parse_robots(EXAMPLE, "somebot")
    assert not rules.allowed("/search?q=x")
    assert not rules.allowed("/private/x")
    assert rules.allowed("/private/press/release")  # longer allow wins
    assert rules.allowed("/news/2026/story")
    assert rules.crawl_delay == 2


def test_wildcards_and_end_anchor() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /*.pdf$\nDisallow: /a*/b\n", "x")
    assert not rules.allowed("/files/report.pdf")
    assert rules.allowed("/files/report.pdf?download=1")
    assert not rules.allowed("/abc/def/b/g")
    assert rules.allowed("/b/abc")


def test_allow_wins_a_tie_and_the_longest_match_wins() -> None:
    text = "User-agent: *\nDisallow: /page\nAllow: /page\nDisallow: /news/\nAllow: /news/today\n"
    rules = parse_robots(text, "x")
    assert rules.allowed("/page")
    assert rules.allowed("/news/today/story")
    assert not rules.allowed("/news/yesterday")


def test_empty_disallow_and_empty_file_allow_everything() -> None:
    assert parse_robots("User-agent: *\nDisallow:\n", "x").allowed("/anything")
    assert parse_robots("", "x").allowed("/anything")
    assert parse_robots("garbage\n\x00\x01 not a robots file", "x").allowed("/anything")


def test_disallow_all_spares_robots_txt_itself() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /\n", "x")
    assert not rules.allowed("/")
    assert not rules.allowed("/story")
    assert rules.allowed("/robots.txt")


def test_names_match_case_insensitively_and_ignore_versions() -> None:
    rules = parse_robots("User-agent: Ingest/2.0\nDisallow: /x\n", "ingest")
    assert not rules.allowed("/x/y")


def test_groups_of_our_name_are_combined() -> None:
    text = (
        "User-agent: ingest\nDisallow: /a\n\n"
        "User-agent: *\nDisallow: /b\n\n"
        "User-agent: ingest\nDisallow: /c\n"
    )
    rules = parse_robots(text, "ingest")
    assert not rules.allowed("/a")
    assert not rules.allowed("/c")
    assert rules.allowed("/b")


def test_percent_encoding_is_compared_decoded() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /caf%C3%A9/\n", "x")
    assert not rules.allowed("/café/menu")
    assert not rules.allowed("/caf%C3%A9/menu")


def test_comments_and_bad_crawl_delays() -> None:
    rules = parse_robots("User-agent: * # everyone\nDisallow: /x # not x\nCrawl-delay: soon\n", "y")
    assert not rules.allowed("/x")
    assert rules.allowed("/y")
    assert rules.crawl_delay is None


def test_product_token_is_the_user_agent_name() -> None:
    assert product_token("ingest/1.0 (+https://example.org)") == "ingest"
    assert product_token("NewsBot (+https://example.org)") == "newsbot"


def test_a_hostile_pattern_does_not_backtrack_forever() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /" + "*a" * 40 + "b\n", "x")
    started = time.process_time()
    assert rules.allowed("/" + "a" * 5000)
    assert time.process_time() - started < 5  # exponential backtracking would never finish


@given(st.text(max_size=2000), st.text(max_size=200))
def test_any_text_parses_and_answers(text: str, path: str) -> None:
    rules = parse_robots(text, "ingest")
    assert rules.allowed("/" + path) in (True, False)
    assert rules.allowed("/robots.txt")  # whatever a file says, robots.txt itself stays readable


# -- the cache, over a real server on loopback ------------------------------------------------------


@dataclass
class RobotsServer:
    base: str = ""
    status: int = 200
    body: bytes = b""
    hits: int = 0
    paths: list[str] = field(default_factory=list)


@pytest.fixture
async def robots_server() -> AsyncIterator[RobotsServer]:
    state = RobotsServer()

    async def robots(request: web.Request) -> web.Response:
        state.hits += 1
        return web.Response(status=state.status, body=state.body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    settings = HttpSettings(min_host_delay_s=0, retries=0, connect_timeout_s=1, total_timeout_s=3)
    async with HttpClient(settings, AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))) as http:
        yield http


def _robots(client: HttpClient) -> tuple[Robots, Metrics]:
    metrics = Metrics()
    return Robots(client.body, client.gate, "ingest/1.0", metrics), metrics


async def test_rules_are_fetched_once_per_origin_and_cached(
    robots_server: RobotsServer, client: HttpClient
) -> None:
    robots_server.body = b"User-agent: *\nDisallow: /private/\nCrawl-delay: 3\n"
    robots, metrics = _robots(client)
    await robots.check(URL(robots_server.base + "/news/a"))
    with pytest.raises(Disallowed):
        await robots.check(URL(robots_server.base + "/private/b"))
    await robots.check(URL(robots_server.base + "/news/c"))
    assert robots_server.hits == 1
    assert client.gate.delay("127.0.0.1") == 3
    assert metrics.robots_fetches.labels("fetched")._value.get() == 1


async def test_concurrent_checks_share_one_fetch(robots_server: RobotsServer, client: HttpClient) -> None:
    robots_server.body = b"User-agent: *\nDisallow: /x\n"
    robots, _ = _robots(client)
    await asyncio.gather(*(robots.check(URL(f"{robots_server.base}/n/{i}")) for i in range(20)))
    assert robots_server.hits == 1


async def test_a_missing_robots_txt_allows_everything(
    robots_server: RobotsServer, client: HttpClient
) -> None:
    robots_server.status = 404
    robots, metrics = _robots(client)
    assert await robots.rules_for(URL(robots_server.base + "/a")) == ALLOW_ALL
    assert metrics.robots_fetches.labels("unavailable")._value.get() == 1


async def test_a_server_error_makes_the_pages_wait_then_answers_again(
    robots_server: RobotsServer, client: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    robots_server.status = 503
    robots, metrics = _robots(client)
    with pytest.raises(RobotsUnavailable, match="the page waits for it"):  # transient: not done
        await robots.check(URL(robots_server.base + "/a"))
    assert metrics.robots_fetches.labels("unreachable")._value.get() == 1
    robots_server.status = 200  # the site answers again: asked once its retry time passed
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + UNREACHABLE_RETRY_S + 1)
    await robots.check(URL(robots_server.base + "/a"))
    assert robots_server.hits == 2


async def test_past_the_wait_the_pages_are_not_fetched(
    robots_server: RobotsServer, client: HttpClient
) -> None:
    robots_server.status = 500
    robots = Robots(client.body, client.gate, "ingest", Metrics(), wait_s=0)
    with pytest.raises(Disallowed, match="unreachable for over 0 s"):
        await robots.check(URL(robots_server.base + "/a"))


async def test_an_unreachable_host_makes_the_pages_wait(client: HttpClient) -> None:
    robots, _ = _robots(client)
    with pytest.raises(RobotsUnavailable, match="connection"):
        await robots.check(URL("http://127.0.0.1:9/a"))  # the discard port: nothing listens


async def test_parsing_can_run_elsewhere(robots_server: RobotsServer, client: HttpClient) -> None:
    robots_server.body = b"User-agent: *\nDisallow: /private/\n"
    parsed: list[str] = []

    async def parse(text: str, token: str) -> RobotsRules:
        parsed.append(text)
        return parse_robots(text, token)

    robots = Robots(client.body, client.gate, "ingest", Metrics(), parse=parse)
    with pytest.raises(Disallowed):
        await robots.check(URL(robots_server.base + "/private/x"))
    assert parsed == ["User-agent: *\nDisallow: /private/\n"]


async def test_an_unreachable_server_keeps_the_copy_it_had(
    robots_server: RobotsServer, client: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    robots_server.body = b"User-agent: *\nDisallow: /private/\n"
    robots, _ = _robots(client)
    await robots.check(URL(robots_server.base + "/a"))
    robots_server.status = 500
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + 2 * 24 * 3600)  # the copy is stale
    await robots.check(URL(robots_server.base + "/a"))  # still allowed by the old copy
    with pytest.raises(Disallowed):
        await robots.check(URL(robots_server.base + "/private/x"))
    assert robots_server.hits == 2


async def test_an_oversized_robots_txt_restricts_nothing(
    robots_server: RobotsServer, client: HttpClient
) -> None:
    robots_server.body = b"User-agent: *\nDisallow: /\n" + b"#" * MAX_BYTES
    robots, metrics = _robots(client)
    await robots.check(URL(robots_server.base + "/a"))
    assert metrics.robots_fetches.labels("unavailable")._value.get() == 1


async def test_the_cache_keeps_at_most_its_capacity(robots_server: RobotsServer, client: HttpClient) -> None:
    robots = Robots(client.body, client.gate, "ingest", Metrics(), capacity=1)
    await robots.check(URL(robots_server.base + "/a"))
    other = robots_server.base.replace("127.0.0.1", "127.0.0.1.")  # another origin, same server
    await robots.check(URL(other + "/a"))
    assert len(robots) == 1


async def test_an_evicted_origin_takes_its_crawl_delay_with_it(
    robots_server: RobotsServer, client: HttpClient
) -> None:
    robots_server.body = b"User-agent: *\nCrawl-delay: 4\n"
    robots = Robots(client.body, client.gate, "ingest", Metrics(), capacity=1)
    await robots.check(URL(robots_server.base + "/a"))
    assert client.gate.delay("127.0.0.1") == 4
    robots_server.body = b""
    other = robots_server.base.replace("127.0.0.1", "127.0.0.1.")  # another origin, same server
    await robots.check(URL(other + "/a"))  # the first origin is evicted
    assert client.gate.delay("127.0.0.1") == 0
