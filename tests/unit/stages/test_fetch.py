"""The fetch stage against a real aiohttp server on 127.0.0.1: what is not the article is not used."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from ingest.config import HttpSettings
from ingest.errors import RobotsUnavailable, UnsupportedContent
from ingest.metrics import Metrics
from ingest.models import Drop, FetchedPage
from ingest.net import AddressPolicy, HttpClient
from ingest.net.robots import Robots
from ingest.stages.extract import extract_page
from ingest.stages.fetch import Fetch, refuse_binary, wall
from tests.unit.factories import make_entry, make_ticket

ARTICLE = (
    b"<html><body><article><p>"
    + b"The council met today and agreed the plan. " * 30
    + b"</p></article></body></html>"
)


@pytest.fixture
async def base() -> AsyncIterator[str]:
    app = web.Application()

    async def article(request: web.Request) -> web.Response:
        return web.Response(body=ARTICLE, content_type="text/html")

    async def walled(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/account/login?next={request.path}")

    async def login(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body><p>Please log in to read on.</p></body></html>", content_type="text/html"
        )

    async def pdf(request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 4000, content_type="text/html")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(status=503, text="busy")

    app.router.add_get("/news/article.html", article)
    app.router.add_get("/news/walled.html", walled)
    app.router.add_get("/account/login", login)
    app.router.add_get("/files/report.html", pdf)
    app.router.add_get("/robots.txt", robots)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    settings = HttpSettings(min_host_delay_s=0, retries=0, total_timeout_s=5)
    async with HttpClient(settings, AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))) as client:
        yield client


def _fetch(http: HttpClient, robots: Robots | None = None) -> Fetch:
    return Fetch(http, HttpSettings(retries=0), robots)


async def test_a_page_on_its_feeds_host_and_port_is_fetched(base: str, http: HttpClient) -> None:
    entry = make_entry(link=base + "/news/article.html", feed_url=base + "/feed.rss")
    page = await _fetch(http)(entry, make_ticket())
    assert isinstance(page, FetchedPage)
    assert (page.status, page.body) == (200, ARTICLE)


async def test_a_page_on_another_port_than_its_feeds_is_refused(base: str, http: HttpClient) -> None:
    entry = make_entry(link=base + "/news/article.html", feed_url="https://news.example.org/feed.rss")
    page = await _fetch(http)(entry, make_ticket())
    assert isinstance(page, FetchedPage)
    assert page.body is None
    assert page.error is not None
    assert page.error.reason == "blocked_port"


async def test_a_redirect_to_a_login_wall_is_not_the_article(base: str, http: HttpClient) -> None:
    entry = make_entry(
        link=base + "/news/walled.html", feed_url=base + "/feed.rss", summary="The feed's own summary."
    )
    page = await _fetch(http)(entry, make_ticket())
    assert isinstance(page, FetchedPage)
    assert page.skipped == "login_wall"
    assert page.body is None
    extracted = extract_page(page)
    assert (extracted.method, extracted.fallback_reason) == ("feed", "login_wall")
    assert extracted.text == "The feed's own summary."
    # With no text of the feed's own there is nothing to publish: a drop, not a "Please log in".
    bare = make_entry(link=base + "/news/walled.html", feed_url=base + "/feed.rss", summary=None)
    assert await _fetch(http)(bare, make_ticket()) == Drop("login_wall")


async def test_a_pdf_served_as_html_is_refused_from_its_first_bytes(base: str, http: HttpClient) -> None:
    entry = make_entry(link=base + "/files/report.html", feed_url=base + "/feed.rss")
    page = await _fetch(http)(entry, make_ticket())
    assert isinstance(page, FetchedPage)
    assert isinstance(page.error, UnsupportedContent)
    assert "PDF" in str(page.error)


async def test_an_unreachable_robots_txt_makes_the_entry_wait(base: str, http: HttpClient) -> None:
    robots = Robots(http.body, http.gate, "ingest", Metrics())
    entry = make_entry(link=base + "/news/article.html", feed_url=base + "/feed.rss")
    with pytest.raises(RobotsUnavailable):
        await _fetch(http, robots)(entry, make_ticket())


@pytest.mark.parametrize(
    ("requested", "final", "walled"),
    [
        ("https://a.example/news/1", "https://a.example/account/login?next=/news/1", True),
        ("https://a.example/news/1", "https://login.a.example/?r=x", True),
        ("https://a.example/news/1", "https://consent.a.example/ml?continue=x", True),
        ("https://a.example/news/1", "https://a.example/subscribe", True),
        (
            "https://a.example/news/1",
            "https://sso.example.net/?returnUrl=https%3A%2F%2Fa.example%2Fnews%2F1",
            True,
        ),
        ("https://a.example/news/1", "https://a.example/news/1", False),
        ("https://a.example/news/1", "https://a.example/news/2026/01/1-accountability-report", False),
        ("http://a.example/news/1", "https://www.a.example/news/1", False),
        ("https://a.example/news/1?utm_source=x", "https://a.example/news/1", False),
    ],
)
def test_what_counts_as_a_wall(requested: str, final: str, walled: bool) -> None:
    assert wall(requested, final) is walled


@pytest.mark.parametrize(
    ("head", "refused"),
    [
        (b"<!DOCTYPE html><html>", False),
        (b"\xef\xbb\xbf  <html>", False),
        (b"\xff\xfe<\x00h\x00t\x00m\x00l\x00", False),  # UTF-16 with its BOM
        (b"  \n%PDF-1.7", True),
        (b"\x89PNG\r\n\x1a\n\x00\x00", True),
        (b"\x00\x00\x00\x18ftypmp42", True),
        (b"<html>\x00\x00\x00", True),
        (b"PK\x03\x04", True),
    ],
)
def test_what_is_refused_as_binary(head: bytes, refused: bool) -> None:
    if refused:
        with pytest.raises(UnsupportedContent, match="not an HTML page"):
            refuse_binary(head)
    else:
        refuse_binary(head)


def test_text_with_many_control_bytes_is_refused_and_a_few_are_not() -> None:
    with pytest.raises(UnsupportedContent, match="binary data"):
        refuse_binary(b"<p>" + bytes(range(1, 9)) * 20)  # no NUL, but one byte in two a control byte
    refuse_binary(b"<html>\x1b[0m colours\x0c page break\t<p>text</p>" * 10)  # ESC and form feed are text
