"""A loopback website for tests: serves tests/data/site with {{BASE}} replaced by its own address.

Answers conditional GETs (ETag / If-None-Match), 404 for what is not there, and extra routes a test
adds: ``site.routes[path] = (status, headers, body)``, or a function given the request handler for
raw behaviour (trickling bytes, bombs). Records every request path and when it came.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent.parent / "data" / "site"
TYPES = {".html": "text/html; charset=utf-8", ".rss": "application/rss+xml", ".atom": "application/atom+xml"}

Route = tuple[int, dict[str, str], bytes]
Raw = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-answer (a killed service, a size limit) is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Site:
    def __init__(self, root: Path = SITE_DIR, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = root
        self.raw: dict[str, Raw] = {}
        # Latency per page: paths ending in ".html" wait this long before the answer.
        self.page_delay_s = 0.0
        self.etags = True  # answer conditional GETs; False: a server without validators
        self.active = 0  # requests being answered now, and the most at once
        self.max_active = 0
        self._lock = threading.Lock()
        self.routes: dict[str, Route] = {
            "/files/report.bin": (200, {"Content-Type": "application/octet-stream"}, bytes(range(256)) * 64)
        }
        self.requests: list[str] = []
        self.started: list[float] = []  # time.monotonic() of each request, in step with ``requests``
        self.agents: list[str] = []  # the User-Agent of each request, in step with ``requests``
        self._server = _QuietServer((host, port), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.base = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def content(self, path: str) -> Route:
        if path in self.routes:
            return self.routes[path]
        file = (self.root / path.lstrip("/")).resolve()
        if self.root not in file.parents or not file.is_file():
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not found</body></html>"
        body = file.read_bytes().replace(b"{{BASE}}", self.base.encode())
        return 200, {"Content-Type": TYPES.get(file.suffix, "application/octet-stream")}, body

    def add_item(self, feed: str, title: str, article: str, guid: str) -> None:
        """Put a new first item into an RSS feed of the site (served from now on)."""
        status, headers, body = self.content(feed)
        item = f"<item><title>{title}</title><link>{self.base}{article}</link><guid>{guid}</guid></item>"
        self.routes[feed] = (status, headers, body.replace(b"<item>", item.encode() + b"<item>", 1))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.requests.append(path)
                    site.started.append(time.monotonic())
                    site.agents.append(self.headers.get("User-Agent", ""))
                    site.active += 1
                    site.max_active = max(site.max_active, site.active)
                try:
                    self._answer(path)
                finally:
                    with site._lock:
                        site.active -= 1

            def _answer(self, path: str) -> None:
                if path in site.raw:
                    with contextlib.suppress(OSError):  # the client gave up, as it should
                        site.raw[path](self)
                    self.close_connection = True
                    return
                status, headers, body = site.content(path)
                if site.page_delay_s and path.endswith(".html"):
                    time.sleep(site.page_delay_s)
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if site.etags and status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if site.etags and status == 200:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def start(self) -> Site:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
