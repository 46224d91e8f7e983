"""The feeds to poll: ``feeds`` from the config plus ``feeds_file`` (OPML or one URL per line)."""

from __future__ import annotations

from pathlib import Path

import lxml.etree

from ingest.config import FeedConfig, Settings
from ingest.errors import ConfigError
from ingest.urls import canonicalize

_SAFE_XML = lxml.etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
)


def _split_categories(value: str) -> list[str]:
    parts = (p.strip() for chunk in value.split(",") for p in chunk.split("/"))
    return [p for p in parts if p]


def parse_opml(data: bytes, origin: str) -> list[FeedConfig]:
    try:
        root = lxml.etree.fromstring(data, parser=_SAFE_XML)
    except lxml.etree.XMLSyntaxError as exc:
        raise ConfigError(f"feeds_file {origin} is not valid OPML: {exc}") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ConfigError(f"feeds_file {origin} is not OPML (no <opml><body>)")
    feeds: list[FeedConfig] = []

    def walk(node: lxml.etree._Element, inherited: tuple[str, ...]) -> None:
        for outline in node.iterfind("outline"):
            url = outline.get("xmlUrl") or outline.get("xmlurl")
            label = outline.get("title") or outline.get("text")
            tags = inherited + tuple(_split_categories(outline.get("category", "")))
            if url:
                try:
                    feeds.append(FeedConfig(url=url, name=label, tags=tuple(dict.fromkeys(tags))))
                except ValueError as exc:
                    raise ConfigError(f"feeds_file {origin}: bad feed {url!r}: {exc}") from exc
            else:
                walk(outline, tags + ((label,) if label else ()))

    walk(body, ())
    return feeds


def parse_url_list(text: str, origin: str) -> list[FeedConfig]:
    feeds: list[FeedConfig] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            feeds.append(FeedConfig(url=line))
        except ValueError as exc:
            raise ConfigError(f"feeds_file {origin} line {number}: {exc}") from exc
    return feeds


def read_feeds_file(path: Path) -> list[FeedConfig]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read feeds_file {path}: {exc.strerror or exc}") from exc
    head = data.lstrip()[:512].lower()
    if head.startswith(b"<?xml") or b"<opml" in head:
        return parse_opml(data, str(path))
    return parse_url_list(data.decode("utf-8", errors="replace"), str(path))


def load_feeds(settings: Settings) -> tuple[FeedConfig, ...]:
    """All configured feeds, de-duplicated by canonical URL (the first mention wins)."""
    feeds = list(settings.feeds)
    if settings.feeds_file is not None:
        feeds.extend(read_feeds_file(settings.feeds_file))
    unique: dict[str, FeedConfig] = {}
    for feed in feeds:
        try:
            key = canonicalize(feed.url)
        except ValueError as exc:
            raise ConfigError(f"bad feed URL {feed.url!r}: {exc}") from exc
        unique.setdefault(key, feed)
    return tuple(unique.values())
