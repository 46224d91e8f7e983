"""Links: a new feed entry as a message, from a poller to the workers (role poller / worker).

The message is keyed by the entry's canonical URL, so every sighting of one URL lands on one
partition, and so on one worker at a time. Its value is UTF-8 JSON of the ``FeedEntry`` with a
version field ``v`` (1); times are ISO 8601 with their offset. A worker that meets a message it
cannot read drops it (``ingest_stage_items_dropped_total{stage="link",reason="bad_link"}``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from ingest.errors import ParseError
from ingest.models import FeedEntry
from ingest.source.entries import valid_entry

LINK_VERSION = 1
_TIMES = ("published_at", "updated_at", "discovered_at")
_TUPLES = ("authors", "tags", "feed_tags")
_FIELDS = {f.name for f in fields(FeedEntry)}


def link_key(entry: FeedEntry) -> bytes:
    return (entry.canonical_url or entry.key).encode("utf-8")


def encode_link(entry: FeedEntry) -> bytes:
    data: dict[str, Any] = {"v": LINK_VERSION, **asdict(entry)}
    for name in _TIMES:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_link(value: bytes) -> FeedEntry:
    """The entry a link message carries. Raises ``ParseError`` for anything else."""
    try:
        data = json.loads(value)
        if not isinstance(data, dict) or data.get("v") != LINK_VERSION:
            raise ValueError(f"not a version {LINK_VERSION} link")
        found = {k: v for k, v in data.items() if k in _FIELDS}
        for name in _TIMES:
            if found.get(name) is not None:
                found[name] = datetime.fromisoformat(found[name])
        for name in _TUPLES:
            found[name] = tuple(found.get(name) or ())
        entry = FeedEntry(**found)
        if not isinstance(entry.key, str) or not isinstance(entry.feed_url, str):
            raise ValueError("key and feed_url must be strings")
        if entry.discovered_at.tzinfo is None:
            raise ValueError("discovered_at has no time zone")
    except (ValueError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
        raise ParseError(f"unreadable link message: {exc}") from exc
    return valid_entry(entry)  # a \ud800 escape is valid JSON, not text
