"""Helpers shared by the feed parsers (feedparser, JSON Feed, sitemaps): links, identity, dates, names.

Every parser builds ``FeedEntry`` items by the same rules: the identity key is the canonical URL of the
entry's http(s) link, else ``guid:<canonical feed URL>#<guid>``; a time is kept only when it states a
zone, is not more than a day ahead of now and not before 1990.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

from ingest.errors import ParseError
from ingest.models import FeedEntry
from ingest.text import clean_line, is_valid_text, valid_text
from ingest.urls import MAX_URL_CHARS, canonicalize

FUTURE_TOLERANCE = timedelta(days=1)
MAX_GUID_CHARS = 512
EARLIEST_YEAR = 1990

# RFC 3339 and the W3C profile of ISO 8601 with a time: seconds and fraction optional, zone required
# to be aware (a time without a zone is matched too, and then rejected as naive).
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)
_SURROGATES = re.compile("[\ud800-\udfff]")


def parse_error(reason: str, message: str, *, url: str | None) -> ParseError:
    """A ``ParseError`` whose ``reason`` (a short, label-safe code) says why the document was refused."""
    error = ParseError(message, url=url)
    error.reason = reason
    return error


def plausible(moment: datetime | None, now: datetime) -> datetime | None:
    """``moment`` in UTC if it is aware and plausible (not over a day ahead of ``now``, not before 1990)."""
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        return None
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if moment > now + FUTURE_TOLERANCE or moment.year < EARLIEST_YEAR:
        return None
    return moment


def parse_datetime(value: Any, now: datetime) -> datetime | None:
    """An RFC 3339 / W3C date-time with a zone, in UTC and plausible; else None (date only, naive, junk)."""
    if not isinstance(value, str):
        return None
    match = _DATETIME.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if not zulu and not sign:
        return None  # a time without a zone: which moment it names is unknown
    offset = timedelta(0)
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second or 0), 59),  # a leap second names the last second of its minute
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(offset),
        )
    except ValueError:  # out-of-range field or offset
        return None
    return plausible(moment, now)


def text(value: Any) -> str | None:
    """``value`` if it is a string, without lone surrogates (JSON can carry them); else None."""
    if not isinstance(value, str):
        return None
    return _SURROGATES.sub("", value)


def http_link(value: Any, base: str | None = None) -> str | None:
    """The link stripped (resolved against ``base`` if given) if it is an absolute http(s) URL."""
    link = text(value)
    if link is None:
        return None
    link = link.strip()
    if len(link) > MAX_URL_CHARS:
        return None
    try:
        if base:
            link = urljoin(base, link)
        canonicalize(link)
    except ValueError:
        return None
    return link


def identity(link: str | None, guid: str | None, feed_url: str) -> tuple[str, str | None] | None:
    """The entry's identity key and canonical URL: the canonical link, else the GUID within the feed.

    ``link`` must have passed ``http_link``. None when the entry has neither.
    """
    canonical = canonicalize(link) if link else None
    if canonical:
        return canonical, canonical
    if guid and guid.strip():
        guid = guid.strip()
        if len(guid) > MAX_GUID_CHARS:  # keys stay small: a long GUID is known by its hash
            guid = "sha256:" + hashlib.sha256(guid.encode("utf-8", "replace")).hexdigest()
        return f"guid:{canonicalize(feed_url)}#{guid}", None
    return None


def unique_lines(values: Iterable[Any]) -> tuple[str, ...]:
    """The strings among ``values`` as clean lines, empty ones and repeats left out, in order."""
    lines = (clean_line(t) for t in (text(v) for v in values) if t)
    return tuple(dict.fromkeys(line for line in lines if line))


def entry_for_link(url: str, *, feed_url: str, discovered_at: datetime) -> FeedEntry:
    """A feed entry that is nothing but a link (a saved page, a link made by hand)."""
    canonical = canonicalize(url)
    return FeedEntry(
        key=canonical,
        feed_url=feed_url,
        link=url,
        canonical_url=canonical,
        guid=None,
        title=None,
        summary=None,
        content_html=None,
        authors=(),
        published_at=None,
        updated_at=None,
        tags=(),
        language=None,
        feed_title=None,
        discovered_at=discovered_at,
    )


def valid_entry(entry: FeedEntry) -> FeedEntry:
    """``entry`` with every string valid Unicode (lone surrogates, non-characters, controls out)."""
    strings = [getattr(entry, name) or "" for name in _TEXT_FIELDS]
    strings += [t for name in _TUPLE_FIELDS for t in getattr(entry, name)]
    if is_valid_text("\n".join(strings)):
        return entry  # the usual case: one search over the entry's text, nothing to change
    changes: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = getattr(entry, name)
        if value is not None:
            changes[name] = valid_text(value)
    for name in _TUPLE_FIELDS:
        changes[name] = tuple(valid_text(v) for v in getattr(entry, name))
    return dataclasses.replace(entry, **changes)


_TEXT_FIELDS = tuple(f.name for f in dataclasses.fields(FeedEntry) if f.type in ("str", "str | None", str))
_TUPLE_FIELDS = tuple(f.name for f in dataclasses.fields(FeedEntry) if f.type == "tuple[str, ...]")
