"""The service's own HTTP endpoints on ``metrics.port``: /metrics, /healthz, /readyz, /feeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingest.metrics import Metrics

ReadyCheck = Callable[[], tuple[bool, str]]
FeedStatus = Callable[[], list[dict[str, Any]]]
MAX_FEEDS_LISTED = 10_000


class StatusServer:
    """/healthz answers while the event loop runs; /readyz when ``ready()`` says so."""

    def __init__(self, metrics: Metrics, ready: ReadyCheck, host: str, port: int) -> None:
        self._metrics = metrics
        self._ready = ready
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port = port
        self.feeds: FeedStatus = list  # replaced once the feeds are known

    async def _metrics_page(self, request: web.Request) -> web.Response:
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        ready, detail = self._ready()
        status = 200 if ready else 503
        return web.json_response({"ready": ready, "detail": detail}, status=status)

    async def _feeds(self, request: web.Request) -> web.Response:
        """Per-feed health as JSON; ``?state=failing`` filters, ``?limit=N`` bounds the list."""
        wanted = request.query.get("state")
        try:
            limit = min(int(request.query.get("limit", MAX_FEEDS_LISTED)), MAX_FEEDS_LISTED)
        except ValueError:
            return web.json_response({"error": "limit must be an integer"}, status=400)
        feeds = [f for f in self.feeds() if wanted is None or f.get("state") == wanted]
        body = {"feeds": feeds[:limit], "total": len(feeds), "truncated": len(feeds) > limit}
        return web.json_response(body, dumps=lambda v: json.dumps(v, default=str))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/feeds", self._feeds)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
