"""The service's own HTTP endpoints on ``metrics.port``: / (the status page), /metrics, /healthz,
/readyz, /feeds. A port already in use is a one-line fatal error, not a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingest import __version__
from ingest.errors import FatalError
from ingest.metrics import Metrics
from ingest.models import Article
from ingest.times import dumps
from ingest.web import page as status_page
from ingest.web.history import History

ReadyCheck = Callable[[], tuple[bool, str]]
FeedStatus = Callable[[], list[dict[str, Any]]]
RecentArticles = Callable[[], Sequence[Article]]
MAX_FEEDS_LISTED = 10_000
SAMPLE_S = 5.0  # how often the published total is sampled for the chart and the windows


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
        self.recent: RecentArticles = tuple  # replaced once the pipeline runs
        self.broker = ""  # the bootstrap address, once known
        self.broker_ok: Callable[[], bool] = lambda: True  # whether Kafka acknowledges
        # How many feeds are polled here when every one of them is failing, else 0 (set once feeds
        # are polled): the service is then not ready, though it runs.
        self.all_failing: Callable[[], int] = lambda: 0
        self._started = time.monotonic()
        self._history = History()
        self._sampler: asyncio.Task[None] | None = None

    def _sample(self) -> int:
        total = status_page.published_total(self._metrics)
        self._history.add(time.monotonic(), total)
        return total

    async def _sample_forever(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(SAMPLE_S)

    async def _status_page(self, request: web.Request) -> web.Response:
        wanted = request.query.get("state") or None
        if wanted is not None and wanted not in status_page.FEED_FILTERS:
            raise web.HTTPBadRequest(text=f"state must be one of {', '.join(status_page.FEED_FILTERS)}")
        published = self._sample()
        ready, detail = self._ready()
        now = time.monotonic()
        snapshot = status_page.Snapshot(
            now=datetime.now(UTC),
            version=__version__,
            ready=ready,
            ready_detail=detail,
            published_total=published,
            stages=status_page.stage_counts(self._metrics),
            feeds=self.feeds(),
            feed_filter=wanted,
            recent=self.recent(),
            uptime_s=now - self._started,
            last_publish_at=status_page.last_publish_at(self._metrics),
            dead_letters=status_page.dead_letters_total(self._metrics),
            broker=self.broker,
            broker_ok=self.broker_ok(),
            per_minute=self._history.per_minute(now),
            last_5_min=self._history.count(now, 300),
            last_hour=self._history.count(now, 3600),
        )
        return web.Response(text=status_page.render(snapshot), content_type="text/html", charset="utf-8")

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
        return web.json_response(body, dumps=dumps)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._status_page)
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/feeds", self._feeds)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise FatalError(
                f"cannot serve metrics and status on {self._host}:{self._port}: "
                f"{exc.strerror or exc} (another process has it? set metrics.port)"
            ) from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._sampler = asyncio.create_task(self._sample_forever(), name="status-rate")

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
