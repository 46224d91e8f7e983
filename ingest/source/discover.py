"""Feed discovery: the feeds a web page announces with ``<link rel="alternate">``."""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.etree
import lxml.html

from ingest.urls import canonicalize

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/rdf+xml": "rdf",
    "application/feed+json": "jsonfeed",
    "application/json": "jsonfeed",
    "text/xml": "rss",
    "application/xml": "rss",
}
MAX_LINKS = 50


def feed_links(html: bytes, base_url: str) -> list[tuple[str, str, str | None]]:
    """(absolute URL, kind, title) of every feed the page links as an alternate, in page order,
    de-duplicated; http(s) only."""
    try:
        tree = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = next((b.get("href") for b in tree.iter("base") if b.get("href")), None)
    base_url = urljoin(base_url, base) if base else base_url
    found: dict[str, tuple[str, str, str | None]] = {}
    for link in tree.iter("link"):
        rels = {r.lower() for r in (link.get("rel") or "").split()}
        kind = FEED_TYPES.get((link.get("type") or "").split(";")[0].strip().lower())
        href = (link.get("href") or "").strip()
        if "alternate" not in rels or kind is None or not href:
            continue
        url = urljoin(base_url, href)
        try:
            key = canonicalize(url)
        except ValueError:
            continue
        found.setdefault(key, (url, kind, (link.get("title") or "").strip() or None))
        if len(found) >= MAX_LINKS:
            break
    return list(found.values())
