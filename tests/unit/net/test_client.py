"""The HTTP client against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ingest.config import HttpSettings
from ingest.errors import (
    BlockedAddress,
    BlockedPort,
    ClientError,
    ConnectionFailed,
    FetchTimeout,
    InvalidUrl,
    PermanentError,
    ServerError,
    TooLarge,
    TooManyRedirects,
    TransientError,
    UnsupportedContent,
)
from ingest.net import AddressPolicy, HttpClient

LOOPBACK_ONLY = AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))
PAGE = b"<html><body><p>Hello from the test server.</p></body></html>"
CAP = 2048


@dataclass
class Server:
    base: str
    port: int
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


async def _until_disconnected(request: web.Request, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(0.02)


def _routes(server: Server) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/page")
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8", headers={"ETag": '"v1"'})

    @routes.get("/echo")
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(dict(request.headers))

    @routes.get("/conditional")
    async def conditional(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=PAGE, content_type="text/html", headers={"ETag": '"v1"'})

    @routes.get("/redirect/{code}")
    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), headers={"Location": "/page"})

    @routes.get("/chain/{n}")
    async def chain(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        target = f"/chain/{n - 1}" if n > 1 else "/page"
        return web.Response(status=302, headers={"Location": target})

    @routes.get("/absolute")
    async def absolute(request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": server.url("/page")})

    @routes.get("/loop/a")
    async def loop_a(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop/b"})

    @routes.get("/loop/b")
    async def loop_b(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": server.url("/loop/a")})

    @routes.get("/self")
    async def to_self(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/self"})

    @routes.get("/no-location")
    async def no_location(request: web.Request) -> web.Response:
        return web.Response(status=302)

    @routes.get("/to-ftp")
    async def to_ftp(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "ftp://127.0.0.1/file"})

    @routes.get("/to-private")
    async def to_private(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "http://10.0.0.1/admin"})

    @routes.get("/to-other-loopback")
    async def to_other_loopback(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"http://127.0.0.2:{server.port}/page"})

    @routes.get("/to-metadata")
    async def to_metadata(request: web.Request) -> web.Response:
        return web.Response(status=308, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    @routes.get("/status/{code}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status page")

    @routes.get("/big")
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (CAP + 1))

    @routes.get("/exact")
    async def exact(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * CAP)

    @routes.get("/stream-big")
    async def stream_big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(10):
                await response.write(b"y" * 1000)
        except ConnectionResetError:
            pass
        return response

    @routes.get("/pdf")
    async def pdf(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})  # the header lies
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(b"%PDF-1.7\n" + b"\0" * 100_000)
            for _ in range(100):  # 10 MB more that should never be read
                await response.write(b"\0" * 100_000)
        except ConnectionResetError:
            pass
        return response

    @routes.get("/to-other-port")
    async def to_other_port(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"http://localhost:{server.port}/page"})

    @routes.get("/gzip-bomb")
    async def gzip_bomb(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(b"a" * 200_000),
            headers={"Content-Encoding": "gzip", "Content-Type": "text/html"},
        )

    @routes.get("/gzip-small")
    async def gzip_small(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(PAGE), headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
        )

    @routes.get("/trickle")
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                await response.write(b"<p>.</p>")
                await asyncio.sleep(0.05)
        except ConnectionResetError:
            pass
        return response

    @routes.get("/silent")
    async def silent(request: web.Request) -> web.Response:
        await _until_disconnected(request, 10)
        return web.Response(body=PAGE)

    return routes


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(base="", port=0)

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        state.requests.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[record])
    app.add_routes(_routes(state))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    state.base = f"http://127.0.0.1:{state.port}"
    try:
        yield state
    finally:
        await runner.cleanup()


def http_settings(**overrides: Any) -> HttpSettings:
    values: dict[str, Any] = {"connect_timeout_s": 2.0, "read_timeout_s": 5.0, "total_timeout_s": 10.0}
    values.update(overrides)
    return HttpSettings(**values)


async def fetch(
    url: str, *, policy: AddressPolicy = LOOPBACK_ONLY, max_bytes: int = CAP, **settings: Any
) -> Any:
    async with HttpClient(http_settings(**settings), policy) as client:
        return await client.get(url, max_bytes=max_bytes, trusted=url)  # as a configured feed is


# -- success -------------------------------------------------------------------------------------


async def test_get_returns_body_status_and_headers(server: Server) -> None:
    response = await fetch(server.url("/page"))
    assert response.status == 200
    assert response.body == PAGE
    assert response.url == server.url("/page")
    assert response.content_type == "text/html"
    assert response.headers["ETag"] == '"v1"'


async def test_user_agent_and_extra_headers_are_sent(server: Server) -> None:
    settings = http_settings(user_agent="ingest-test/1.0")
    async with HttpClient(settings, LOOPBACK_ONLY) as client:
        response = await client.get(
            server.url("/echo"), max_bytes=CAP, headers={"Accept": "text/html"}, trusted=server.base
        )
    sent = json.loads(response.body)
    assert sent["User-Agent"] == "ingest-test/1.0"
    assert sent["Accept"] == "text/html"


async def test_not_modified_is_returned_not_raised(server: Server) -> None:
    async with HttpClient(http_settings(), LOOPBACK_ONLY) as client:
        fresh = await client.get(server.url("/conditional"), max_bytes=CAP, trusted=server.base)
        again = await client.get(
            server.url("/conditional"), max_bytes=CAP, headers={"If-None-Match": '"v1"'}, trusted=server.base
        )
    assert fresh.status == 200
    assert again.status == 304
    assert again.body == b""


async def test_body_exactly_at_the_cap_is_accepted(server: Server) -> None:
    response = await fetch(server.url("/exact"))
    assert len(response.body) == CAP


async def test_gzip_body_is_decompressed(server: Server) -> None:
    response = await fetch(server.url("/gzip-small"))
    assert response.body == PAGE


# -- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirects_are_followed(server: Server, code: int) -> None:
    response = await fetch(server.url(f"/redirect/{code}"))
    assert response.status == 200
    assert response.body == PAGE
    assert response.url == server.url("/page")
    assert server.requests == [f"/redirect/{code}", "/page"]


async def test_absolute_redirect_is_followed(server: Server) -> None:
    response = await fetch(server.url("/absolute"))
    assert response.url == server.url("/page")


async def test_redirects_up_to_the_limit_are_followed(server: Server) -> None:
    response = await fetch(server.url("/chain/3"), max_redirects=3)
    assert response.body == PAGE
    assert server.requests == ["/chain/3", "/chain/2", "/chain/1", "/page"]


async def test_more_redirects_than_allowed(server: Server) -> None:
    with pytest.raises(TooManyRedirects, match="more than 2 redirects") as caught:
        await fetch(server.url("/chain/3"), max_redirects=2)
    assert caught.value.reason == "too_many_redirects"
    assert isinstance(caught.value, PermanentError)
    assert "/page" not in server.requests


async def test_no_redirects_allowed(server: Server) -> None:
    with pytest.raises(TooManyRedirects):
        await fetch(server.url("/redirect/302"), max_redirects=0)
    assert server.requests == ["/redirect/302"]


async def test_redirect_loop_is_detected(server: Server) -> None:
    with pytest.raises(TooManyRedirects, match="redirect loop"):
        await fetch(server.url("/loop/a"), max_redirects=10)
    assert server.requests == ["/loop/a", "/loop/b"]


async def test_redirect_to_itself_is_a_loop(server: Server) -> None:
    with pytest.raises(TooManyRedirects, match="redirect loop"):
        await fetch(server.url("/self"), max_redirects=10)
    assert server.requests == ["/self"]


async def test_redirect_without_location(server: Server) -> None:
    with pytest.raises(ClientError, match="without Location") as caught:
        await fetch(server.url("/no-location"))
    assert caught.value.status == 302


async def test_redirect_to_another_scheme_is_refused(server: Server) -> None:
    with pytest.raises(UnsupportedContent, match="scheme 'ftp'"):
        await fetch(server.url("/to-ftp"))


@pytest.mark.parametrize(
    ("path", "address"),
    [("/to-private", "10.0.0.1"), ("/to-other-loopback", "127.0.0.2"), ("/to-metadata", "169.254.169.254")],
)
async def test_every_redirect_hop_is_checked_by_the_guard(server: Server, path: str, address: str) -> None:
    with pytest.raises(BlockedAddress, match=address) as caught:
        await fetch(server.url(path))
    assert caught.value.url == server.url(path)
    assert server.requests == [path]


# -- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "reason"),
    [
        (404, ClientError, "http_404"),
        (410, ClientError, "http_410"),
        (403, ClientError, "http_4xx"),
        (400, ClientError, "http_4xx"),
        (500, ServerError, "http_5xx"),
        (503, ServerError, "http_5xx"),
        (429, ServerError, "http_429"),
    ],
)
async def test_error_statuses(server: Server, code: int, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as caught:
        await fetch(server.url(f"/status/{code}"))
    assert caught.value.reason == reason  # type: ignore[attr-defined]
    assert caught.value.status == code  # type: ignore[attr-defined]
    assert caught.value.url == server.url(f"/status/{code}")  # type: ignore[attr-defined]
    expected_kind = TransientError if code >= 500 or code == 429 else PermanentError
    assert isinstance(caught.value, expected_kind)


# -- size limits ---------------------------------------------------------------------------------


async def test_declared_length_over_the_cap(server: Server) -> None:
    with pytest.raises(TooLarge, match="Content-Length 2049"):
        await fetch(server.url("/big"))


async def test_streamed_body_over_the_cap(server: Server) -> None:
    with pytest.raises(TooLarge, match="byte limit"):
        await fetch(server.url("/stream-big"))


async def test_gzip_body_over_the_cap_once_decompressed(server: Server) -> None:
    compressed = gzip.compress(b"a" * 200_000)
    assert len(compressed) < CAP  # small on the wire, large once inflated
    with pytest.raises(TooLarge, match="decompressed"):
        await fetch(server.url("/gzip-bomb"))


# -- what is requested at all --------------------------------------------------------------------


async def test_a_port_outside_the_allowed_ones_is_refused_before_any_request(server: Server) -> None:
    async with HttpClient(http_settings(), LOOPBACK_ONLY) as client:
        with pytest.raises(BlockedPort, match=f"port {server.port} refused"):
            await client.get(server.url("/page"), max_bytes=CAP)
    assert server.requests == []
    allowed = await fetch(server.url("/page"), allowed_ports=(server.port,))
    assert allowed.status == 200


async def test_the_trusted_origin_does_not_extend_to_other_hosts(server: Server) -> None:
    """A feed's own port is allowed for it; a redirect elsewhere on that port is not."""
    with pytest.raises(BlockedPort):
        await fetch(server.url("/to-other-port"))
    assert server.requests == ["/to-other-port"]


@pytest.mark.parametrize(
    "host",
    ["news..example.com", "a" * 64 + ".example.com", "xn--a", "xn--a.example.com", "-bad.example.com"],
)
async def test_malformed_host_names_are_invalid_urls_not_crashes(host: str) -> None:
    with pytest.raises(InvalidUrl, match="host name"):
        await fetch(f"http://{host}/a")


async def test_an_over_long_url_is_not_sent(server: Server) -> None:
    with pytest.raises(InvalidUrl, match="longer than"):
        await fetch(server.url("/page?q=" + "x" * 100_000))
    assert server.requests == []


async def test_a_probe_refuses_a_body_from_its_first_bytes(server: Server) -> None:
    def refuse(head: bytes) -> None:
        if head.startswith(b"%PDF"):
            raise UnsupportedContent("not an HTML page: a PDF document")

    async with HttpClient(http_settings(), LOOPBACK_ONLY) as client:
        with pytest.raises(UnsupportedContent, match="PDF"):
            await client.get(server.url("/pdf"), max_bytes=50_000_000, trusted=server.base, probe=refuse)
        short = await client.get(server.url("/page"), max_bytes=CAP, trusted=server.base, probe=refuse)
    assert short.body == PAGE  # a body shorter than the probe's window is probed whole


# -- deadlines -----------------------------------------------------------------------------------


async def test_trickling_server_hits_the_total_deadline(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="deadline") as caught:
        await fetch(server.url("/trickle"), max_bytes=10_000_000, total_timeout_s=0.4, read_timeout_s=5.0)
    elapsed = time.monotonic() - started
    assert 0.3 < elapsed < 3.0
    assert caught.value.reason == "timeout"
    assert isinstance(caught.value, TransientError)


async def test_silent_server_hits_the_read_deadline(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        await fetch(server.url("/silent"), read_timeout_s=0.3, total_timeout_s=10.0)
    assert time.monotonic() - started < 3.0


async def test_refused_connection(server: Server) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(ConnectionFailed) as caught:
        await fetch(f"http://127.0.0.1:{closed_port}/page")
    assert caught.value.reason == "connection"


# -- schemes and the address guard ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/file", "file:///etc/passwd", "javascript:alert(1)", "gopher://127.0.0.1:70/"]
)
async def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedContent, match="scheme") as caught:
        await fetch(url, policy=AddressPolicy(True))
    assert caught.value.url == url


async def test_url_without_host_is_refused() -> None:
    with pytest.raises(UnsupportedContent):
        await fetch("http:///page", policy=AddressPolicy(True))


async def test_guard_refuses_loopback_by_default(server: Server) -> None:
    with pytest.raises(BlockedAddress, match=r"127\.0\.0\.1 refused \(loopback\)") as caught:
        await fetch(server.url("/page"), policy=AddressPolicy())
    assert caught.value.reason == "blocked_address"
    assert server.requests == []


async def test_guard_refuses_a_name_that_resolves_to_loopback(server: Server) -> None:
    with pytest.raises(BlockedAddress, match="localhost resolves to"):
        await fetch(f"http://localhost:{server.port}/page", policy=AddressPolicy())
    assert server.requests == []


async def test_guard_refuses_ipv4_mapped_loopback(server: Server) -> None:
    with pytest.raises(BlockedAddress, match="embedded loopback"):
        await fetch(f"http://[::ffff:127.0.0.1]:{server.port}/page", policy=AddressPolicy())
    assert server.requests == []


async def test_guard_allows_an_allowed_range(server: Server) -> None:
    response = await fetch(server.url("/page"), policy=AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),)))
    assert response.status == 200
    assert server.requests == ["/page"]


async def test_guard_allows_everything_when_told(server: Server) -> None:
    response = await fetch(server.url("/page"), policy=AddressPolicy(True))
    assert response.body == PAGE
