"""CPU cost per request of aiohttp vs httpx clients, at 1 and 64 requests in flight.

    python bench/http_client.py [--requests N]

A loopback server runs in a child process, so the figures are the client's own CPU time
(``time.process_time`` of this process) divided by the number of requests. httpx is optional:
``pip install httpx`` to include it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

BODY = b"x" * 20_000


def _serve(port: int) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _drive(get: Callable[[], Awaitable[None]], total: int, in_flight: int) -> float:
    room = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with room:
            await get()

    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(total)))
    return (time.process_time() - started) / total * 1000


async def _aiohttp(url: str, total: int, in_flight: int) -> float:
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get() -> None:
            async with session.get(url) as response:
                await response.read()

        await _drive(get, 50, in_flight)  # warm-up
        return await _drive(get, total, in_flight)


async def _httpx(url: str, total: int, in_flight: int) -> float | None:
    try:
        import httpx
    except ImportError:
        return None
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits) as client:

        async def get() -> None:
            (await client.get(url)).raise_for_status()

        await _drive(get, 50, in_flight)
        return await _drive(get, total, in_flight)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    port = _free_port()
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        print(f"client CPU ms per request ({args.requests} requests, 20 kB body, loopback)")
        for in_flight in (1, 64):
            a = asyncio.run(_aiohttp(url, args.requests, in_flight))
            h = asyncio.run(_httpx(url, args.requests, in_flight))
            hx = f"{h:.3f}" if h is not None else "not installed"
            print(f"in flight {in_flight:>3}: aiohttp {a:.3f} ms   httpx {hx} ms")
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
