"""Hostile pages and feeds served by the loopback site, and a feed that links to them."""

from __future__ import annotations

import gzip
import time
from http.server import BaseHTTPRequestHandler

from tests.support.site import Site

TRICKLE_LIMIT_S = 30.0
BOMB_BYTES = 100 * 1024 * 1024
BIG_PAGE_BYTES = 50 * 1024 * 1024
# Markup, so that it is the size cap that stops it (NUL bytes would be refused as binary at once).
_BOMB = gzip.compress(b"<html><body><p>" + b" " * BOMB_BYTES, compresslevel=9)


def slow_loris(handler: BaseHTTPRequestHandler) -> None:
    """Headers, then one byte every 0.3 s: never a read timeout, always past the total deadline."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    deadline = time.monotonic() + TRICKLE_LIMIT_S
    while time.monotonic() < deadline:
        handler.wfile.write(b"<")
        handler.wfile.flush()
        time.sleep(0.3)


def gzip_bomb(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(_BOMB)))
    handler.end_headers()
    handler.wfile.write(_BOMB)


def big_page(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(BIG_PAGE_BYTES))
    handler.end_headers()
    chunk = b"<p>" + b"x" * (1024 * 1024 - 3)
    for _ in range(BIG_PAGE_BYTES // len(chunk)):
        handler.wfile.write(chunk)


def redirect(target: str) -> object:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


HOSTILE = {
    # path: (title, what the log says, reason counted at the fetch stage)
    "/hostile/slow.html": ("Slow loris", "request deadline passed", "timeout"),
    "/hostile/bomb.html": ("Gzip bomb", "byte limit (decompressed)", "too_large"),
    "/hostile/big.html": ("Fifty megabytes", "Content-Length 52428800 over", "too_large"),
    "/hostile/loop-a.html": ("Redirect loop", "redirect loop", "too_many_redirects"),
    "/hostile/internal.html": ("Redirect inside", "refused (loopback)", "blocked_address"),
    "/hostile/metadata.html": ("Cloud metadata", "refused (link_local)", "blocked_address"),
}


def serve_hostile(site: Site, *, with_summaries: bool = True) -> None:
    """Add the hostile pages and ``/hostile/feed.rss`` listing them (with a summary each, so the
    service can fall back to the feed's text where the page is refused)."""
    port = site.base.rsplit(":", 1)[1]
    site.raw.update(
        {
            "/hostile/slow.html": slow_loris,
            "/hostile/bomb.html": gzip_bomb,
            "/hostile/big.html": big_page,
            "/hostile/loop-a.html": redirect(site.url("/hostile/loop-b.html")),  # type: ignore[dict-item]
            "/hostile/loop-b.html": redirect(site.url("/hostile/loop-a.html")),  # type: ignore[dict-item]
            "/hostile/internal.html": redirect(f"http://127.0.0.2:{port}/articles/tram-line.html"),  # type: ignore[dict-item]
            "/hostile/metadata.html": redirect("http://169.254.169.254/latest/meta-data/"),  # type: ignore[dict-item]
        }
    )
    items = "".join(
        f"<item><title>{title}</title><link>{site.url(path)}</link><guid>{path}</guid>"
        + (f"<description>The feed's own text about {title.lower()}.</description>" if with_summaries else "")
        + "</item>"
        for path, (title, _, _) in HOSTILE.items()
    )
    feed = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Hostile</title>{items}</channel></rss>"
    site.routes["/hostile/feed.rss"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
