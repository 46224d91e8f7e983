"""Generated articles with distinct texts, for tests that need many: pages and one feed listing them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from tests.support.site import Site

WORDS = [
    "harbour",
    "council",
    "storm",
    "tram",
    "museum",
    "budget",
    "workers",
    "union",
    "mayor",
    "river",
    "bridge",
    "school",
    "hospital",
    "market",
    "festival",
    "police",
    "court",
    "minister",
    "election",
    "railway",
    "airport",
    "factory",
    "farmers",
    "weather",
    "coast",
    "island",
    "ferry",
    "library",
    "theatre",
    "stadium",
    "district",
    "housing",
    "water",
    "energy",
    "prices",
    "traffic",
    "inquiry",
    "report",
    "committee",
    "protest",
    "agreement",
    "investment",
    "museum",
    "season",
    "record",
    "fire",
    "rescue",
    "village",
]


def _paragraphs(rng: random.Random, number: int) -> list[str]:
    paragraphs = []
    for p in range(6):
        sentences = []
        for _ in range(5):
            words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(f"Story {number} part {p}: " + " ".join(sentences))
    return paragraphs


def article_html(number: int, seed: int = 0) -> bytes:
    rng = random.Random(seed * 1_000_003 + number)
    title = f"Generated story number {number}"
    body = "".join(f"<p>{p}</p>" for p in _paragraphs(rng, number))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title} | Generated Gazette</title>"
        f"<meta property='og:title' content='{title}'>"
        "<meta property='article:published_time' content='2026-03-01T10:00:00+00:00'>"
        "</head><body><header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer>Copyright Generated Gazette</footer></body></html>"
    ).encode()


def feed_xml(site: Site, numbers: range, prefix: str = "/gen") -> bytes:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>Generated story number {n}</title><link>{site.base}{prefix}/{n}.html</link>"
        f"<guid isPermaLink='false'>gen-{n}</guid>"
        f"<pubDate>{format_datetime(start + timedelta(minutes=n))}</pubDate></item>"
        for n in numbers
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Generated</title>"
        f"<link>{site.base}/</link>{items}</channel></rss>"
    ).encode()


def serve_generated(site: Site, count: int, *, prefix: str = "/gen", seed: int = 0) -> list[str]:
    """Adds ``count`` article pages and ``{prefix}/feed.rss`` to the site; returns the page URLs."""
    for n in range(count):
        site.routes[f"{prefix}/{n}.html"] = (
            200,
            {"Content-Type": "text/html; charset=utf-8"},
            article_html(n, seed),
        )
    site.routes[f"{prefix}/feed.rss"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        feed_xml(site, range(count), prefix),
    )
    return [f"{site.base}{prefix}/{n}.html" for n in range(count)]
