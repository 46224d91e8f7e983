"""JSON Feed 1.0 and 1.1 documents (https://jsonfeed.org/version/1.1) to typed entries.

feedparser does not read JSON Feed, so this module maps it to the same ``FeedEntry`` by the same rules
(see ``ingest.source.entries``):

- ``id`` (string, or a number in some 1.0 feeds) is the GUID; ``url``, else ``external_url``, the link,
  resolved against the feed's ``home_page_url``, else its ``feed_url``, else the URL it was served from;
- ``title``; ``content_html`` is the entry's HTML content; ``summary``, else ``content_text``, its summary;
- ``date_published`` (else ``date_modified``) and ``date_modified``: RFC 3339, kept only with a zone,
  in UTC, not more than a day ahead and not before 1990;
- ``authors[].name`` (1.1), else ``author.name`` (1.0), of the item, else of the feed;
- ``tags``; ``language`` (1.1) of the item, else of the feed; the feed's ``title``.

Fields of the wrong type are ignored, items past ``max_entries`` are not read, and whatever the input,
the only exception raised is ``ParseError``.

Runs in a worker process (see ``ingest.pipeline``): a pure function of its arguments.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ingest.models import FeedEntry
from ingest.source.entries import http_link, identity, parse_datetime, parse_error, text, unique_lines
from ingest.text import clean_line, normalise_paragraphs

VERSION = re.compile(r"https?://jsonfeed\.org/version/")  # https:// per the spec; http:// is seen in use


def _load(body: bytes, url: str) -> Any:
    try:
        document = body.decode(json.detect_encoding(body), "replace").removeprefix("\ufeff")
        # strict=False: raw control characters in strings, common in real feeds, are accepted;
        # NaN and Infinity, which are not JSON, are read as null.
        return json.loads(document, strict=False, parse_constant=lambda _: None)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, over-long integers, deep nesting
        raise parse_error("invalid_json", f"not valid JSON: {exc}", url=url) from exc


def _guid(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return (text(value) or "").strip() or None


def _names(value: Any) -> tuple[str, ...]:
    """Names of a 1.1 ``authors`` list or a 1.0 ``author`` object."""
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return ()
    return unique_lines(a.get("name") for a in value if isinstance(a, Mapping))


def _authors(item: Mapping[str, Any]) -> tuple[str, ...]:
    return _names(item.get("authors")) or _names(item.get("author"))


def _line(value: Any) -> str | None:
    return clean_line(text(value) or "") or None


def _paragraphs(value: Any) -> str | None:
    return normalise_paragraphs(text(value) or "") or None


def _base(feed: Mapping[str, Any], base_url: str) -> str:
    """What relative item URLs are resolved against: the home page, else the feed's stated URL."""
    for name in ("home_page_url", "feed_url"):
        link = http_link(feed.get(name), base_url)
        if link:
            return link
    return base_url


def _entry(
    item: Mapping[str, Any],
    *,
    feed: Mapping[str, Any],
    base: str,
    feed_url: str,
    feed_tags: tuple[str, ...],
    now: datetime,
) -> FeedEntry | None:
    link = http_link(item.get("url"), base) or http_link(item.get("external_url"), base)
    guid = _guid(item.get("id"))
    ident = identity(link, guid, feed_url)
    if ident is None:
        return None
    key, canonical = ident
    content_html = text(item.get("content_html"))
    published = parse_datetime(item.get("date_published"), now)
    updated = parse_datetime(item.get("date_modified"), now)
    tags = item.get("tags")
    return FeedEntry(
        key=key,
        feed_url=feed_url,
        link=link,
        canonical_url=canonical,
        guid=guid,
        title=_line(item.get("title")),
        summary=_paragraphs(item.get("summary")) or _paragraphs(item.get("content_text")),
        content_html=content_html if content_html and content_html.strip() else None,
        authors=_authors(item) or _authors(feed),
        published_at=published or updated,
        updated_at=updated,
        tags=unique_lines(tags) if isinstance(tags, list) else (),
        language=_line(item.get("language")) or _line(feed.get("language")),
        feed_title=_line(feed.get("title")),
        discovered_at=now,
        feed_tags=feed_tags,
    )


def parse_json_feed(
    body: bytes,
    *,
    feed_url: str,
    base_url: str,
    max_entries: int,
    feed_tags: tuple[str, ...] = (),
    skipped: Counter[str] | None = None,
) -> tuple[FeedEntry, ...]:
    """Entries of a JSON Feed; items without an http(s) link or an id are skipped (counted in
    ``skipped`` as ``no_identity``).

    Raises ``ParseError``: ``invalid_json`` (not JSON), ``not_a_feed`` (not an object, or no JSON Feed
    ``version``), ``invalid_feed`` (``items`` is not a list).
    """
    feed = _load(body, feed_url)
    if not isinstance(feed, dict):
        raise parse_error("not_a_feed", f"not a JSON Feed: a JSON {type(feed).__name__}", url=feed_url)
    version = feed.get("version")
    if not isinstance(version, str) or not VERSION.match(version):
        raise parse_error(
            "not_a_feed",
            "not a JSON Feed: no version https://jsonfeed.org/version/... in the JSON object",
            url=feed_url,
        )
    items = feed.get("items")
    if not isinstance(items, list):
        raise parse_error("invalid_feed", "invalid JSON Feed: 'items' is not a list", url=feed_url)
    now = datetime.now(UTC)
    base = _base(feed, base_url)
    entries = [
        _entry(item, feed=feed, base=base, feed_url=feed_url, feed_tags=feed_tags, now=now)
        for item in items[: max(max_entries, 0)]
        if isinstance(item, dict)
    ]
    found = tuple(e for e in entries if e is not None)
    if skipped is not None and len(found) < len(entries):
        skipped["no_identity"] += len(entries) - len(found)
    return found
