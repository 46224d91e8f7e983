"""Feed documents to typed entries, from bytes only: the format is sniffed, the Content-Type is a hint.

- RSS 0.9x/1.0/2.0 and Atom through feedparser;
- JSON Feed 1.0/1.1 (``ingest.source.jsonfeed``);
- Google News and plain sitemaps (``ingest.source.sitemap``), gzip-compressed or not; a sitemap index
  raises ``SitemapIndex`` with its child sitemaps;
- an HTML page raises ``ParseError`` ``html_not_feed``, anything else that yields no feed ``not_a_feed``.

Every format gives the same ``FeedEntry`` by the same rules (``ingest.source.entries``). Runs in a
worker process (see ``ingest.pipeline``): a pure function of its arguments.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.errors import ParseError
from ingest.models import FeedEntry
from ingest.source.entries import http_link, identity, parse_error, plausible, unique_lines, valid_entry
from ingest.source.jsonfeed import parse_json_feed
from ingest.source.sitemap import (
    SitemapIndex,
    gunzip,
    parse_sitemap,
    sitemap_index,
)
from ingest.source.sniff import FeedKind, sniff
from ingest.text import clean_line, html_to_text

log = logging.getLogger(__name__)

# When a feed's declared encoding fails, feedparser asks chardet (if something installed it) to guess
# one from the whole document: pure Python, seconds of CPU per 100 kB of high bytes. A prefix tells
# as much; this bounds what one hostile feed costs.
CHARSET_SAMPLE_BYTES = 4096


def _guess_encoding(data: bytes) -> str:
    detector = feedparser.encodings.chardet
    if detector is None:
        return ""
    return str(detector.detect(data[:CHARSET_SAMPLE_BYTES]).get("encoding") or "")


feedparser.encodings.lazy_chardet_encoding = _guess_encoding

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_EMBEDDED_FEED = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]")
# A numeric character reference (&#55296; &#xD800;), and a pair of them spelling a UTF-16 pair.
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
_PAIR = re.compile(
    rb"&#(?:[xX]([dD][89abAB][0-9a-fA-F]{2})|(5[5-6][0-9]{3}));&#(?:[xX]([dD][c-fC-F][0-9a-fA-F]{2})|(5[6-7][0-9]{3}));"
)


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """A feed's entries, and the items it listed that could not be entries, counted by reason:
    ``no_identity`` (neither an http(s) link nor a GUID), ``enclosure_only`` (its only link is an
    enclosure: a podcast episode, a file, not an article), ``bad_entry`` (it could not be read)."""

    entries: tuple[FeedEntry, ...]
    skipped: dict[str, int] = field(default_factory=dict)


def _char(match: re.Match[bytes]) -> bytes:
    hex_digits, digits = match.groups()
    code = int(hex_digits, 16) if hex_digits else int(digits)
    if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000:
        return match.group(0) if code <= 0x10FFFF else b"&#xFFFD;"
    return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF else b""  # a control or non-character: nothing


def _joined(match: re.Match[bytes]) -> bytes:
    high_hex, high_dec, low_hex, low_dec = match.groups()
    high = int(high_hex, 16) if high_hex else int(high_dec)
    low = int(low_hex, 16) if low_hex else int(low_dec)
    if not (0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF):
        return match.group(0)
    return b"&#x%X;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def valid_charrefs(body: bytes) -> bytes:
    """Character references to what is not a character replaced: a lone UTF-16 surrogate or a
    code point beyond U+10FFFF by U+FFFD, a control XML forbids (NUL...) by nothing; a pair
    spelling one UTF-16 character joined into it. Such references make the XML parser refuse the
    whole document, and feedparser's fallback parser crash."""
    if b"&#" not in body:
        return body
    return _CHARREF.sub(_char, _PAIR.sub(_joined, body))


def _datetime(value: Any, now: datetime) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        moment = datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return plausible(moment, now)


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [a.get("name", "") for a in entry.get("authors", []) if isinstance(a, Mapping)]
    if not any(names) and isinstance(entry.get("author"), str):
        names = [entry["author"]]
    return unique_lines(names)


def _tags(entry: Mapping[str, Any]) -> tuple[str, ...]:
    return unique_lines(t.get("term") or t.get("label") or "" for t in entry.get("tags", []) or [])


def _content(entry: Mapping[str, Any]) -> str | None:
    contents = entry.get("content") or []
    best = max((c.get("value", "") for c in contents if isinstance(c, Mapping)), key=len, default="")
    return best or None


def _enclosure_only(raw: Mapping[str, Any], summary: str | None) -> bool:
    links = raw.get("links") or []
    enclosed = any(isinstance(x, Mapping) and x.get("rel") == "enclosure" for x in links)
    return enclosed and not summary and not _content(raw)


def _entry(
    raw: Mapping[str, Any],
    feed_url: str,
    feed: Mapping[str, Any],
    feed_tags: tuple[str, ...],
    now: datetime,
) -> FeedEntry | str:
    """The entry, or why the item is not one (see ``FeedDocument``)."""
    link = http_link(raw.get("link"))
    guid = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
    if link is None and guid is not None:
        link = http_link(guid) if raw.get("guidislink") else None
    summary = html_to_text(raw.get("summary") or "") or None
    if link is None and _enclosure_only(raw, summary):
        return "enclosure_only"
    ident = identity(link, guid, feed_url)
    if ident is None:
        return "no_identity"
    key, canonical = ident
    # Only a stated update time: feedparser's ``updated_parsed`` falls back to the publication time.
    updated = raw.get("updated_parsed") if "updated_parsed" in raw else None
    return FeedEntry(
        key=key,
        feed_url=feed_url,
        link=link,
        canonical_url=canonical,
        guid=guid.strip() if guid else None,
        title=clean_line(html_to_text(raw.get("title") or "")) or None,
        summary=summary,
        content_html=_content(raw),
        authors=_authors(raw),
        published_at=_datetime(raw.get("published_parsed") or updated, now),
        updated_at=_datetime(updated, now),
        tags=_tags(raw),
        language=feed.get("language") if isinstance(feed.get("language"), str) else None,
        feed_title=clean_line(feed.get("title") or "") or None,
        discovered_at=now,
        feed_tags=feed_tags,
    )


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _html_not_feed(feed_url: str) -> ParseError:
    return parse_error(
        "html_not_feed",
        "not a feed: the URL is a web page (HTML); feed discovery can find the feeds it links to",
        url=feed_url,
    )


def _feedparser_content_type(content_type: str | None, kind: FeedKind) -> str:
    """The Content-Type feedparser is told. A header that contradicts the sniffed XML feed is replaced
    by ``application/xml`` (its charset kept): feedparser would otherwise read the feed as non-XML."""
    if not content_type:
        return "application/xml"
    if kind not in ("rss", "atom", "rdf") or _media_type(content_type).endswith("xml"):
        return content_type
    _, _, params = content_type.partition(";")
    return f"application/xml;{params}" if "charset" in params.lower() else "application/xml"


def _parse_with_feedparser(
    body: bytes,
    *,
    kind: FeedKind,
    feed_url: str,
    base_url: str,
    content_type: str | None,
    max_entries: int,
    feed_tags: tuple[str, ...],
) -> FeedDocument:
    """RSS, RDF and Atom, a feed wrapped in an HTML page, and what the sniffer could not name. The
    document is handed over as a stream so feedparser can never treat it as a path or URL."""
    headers = {"content-location": base_url, "content-type": _feedparser_content_type(content_type, kind)}
    try:
        parsed = feedparser.parse(
            io.BytesIO(valid_charrefs(body)),
            response_headers=headers,
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser's own bugs on malformed documents (e.g. KeyError)
        raise ParseError(f"feed parser failed: {type(exc).__name__}: {exc}", url=feed_url) from exc
    if not parsed.get("version") and not parsed.entries:
        if kind == "html" or (kind == "unknown" and _media_type(content_type) in _HTML_TYPES):
            raise _html_not_feed(feed_url)
        why = parsed.get("bozo_exception")
        raise parse_error("not_a_feed", f"not a feed: {why or 'no feed elements found'}", url=feed_url)
    feed = parsed.get("feed", {})
    now = datetime.now(UTC)
    entries: list[FeedEntry] = []
    skipped: Counter[str] = Counter()
    for raw in parsed.entries[: max(max_entries, 0)]:
        try:
            entry = _entry(raw, feed_url, feed, feed_tags, now)
        except Exception as exc:  # one item feedparser or our reading of it chokes on: it alone
            log.debug("feed %s: an item could not be read: %s: %s", feed_url, type(exc).__name__, exc)
            entry = "bad_entry"
        if isinstance(entry, str):
            skipped[entry] += 1
        else:
            entries.append(entry)
    return FeedDocument(tuple(entries), dict(skipped))


def parse_feed(
    body: bytes,
    *,
    feed_url: str,
    base_url: str,
    content_type: str | None,
    max_entries: int,
    feed_tags: tuple[str, ...] = (),
) -> tuple[FeedEntry, ...]:
    """The entries of a feed document (see ``read_feed``)."""
    return read_feed(
        body,
        feed_url=feed_url,
        base_url=base_url,
        content_type=content_type,
        max_entries=max_entries,
        feed_tags=feed_tags,
    ).entries


def read_feed(
    body: bytes,
    *,
    feed_url: str,
    base_url: str,
    content_type: str | None,
    max_entries: int,
    feed_tags: tuple[str, ...] = (),
) -> FeedDocument:
    """Parse a feed document into entries. Raises ``ParseError`` for what is not a feed.

    The format is sniffed from the bytes (gzip-compressed bodies are decompressed first, up to 50 MB);
    ``content_type`` only breaks ties. Entries without an http(s) link or a GUID are skipped; at most
    ``max_entries`` items of the document are read. ``ParseError.reason`` says why a document was
    refused: ``html_not_feed``, ``not_a_feed``, ``invalid_json``, ``invalid_feed``, ``invalid_xml``,
    ``too_large``, ``invalid_gzip``, ``parse_error`` (feedparser failed), or ``sitemap_index``: a
    ``SitemapIndex`` whose ``children`` are the sitemaps it lists. Every string of every entry is
    valid Unicode (``ingest.text.valid_text``).
    """
    document = _read(body, feed_url, base_url, content_type, max_entries, feed_tags)
    return FeedDocument(tuple(valid_entry(e) for e in document.entries), document.skipped)


def _read(
    body: bytes,
    feed_url: str,
    base_url: str,
    content_type: str | None,
    max_entries: int,
    feed_tags: tuple[str, ...],
) -> FeedDocument:
    body = gunzip(body, url=feed_url)
    kind = sniff(body, content_type)
    if kind == "html" and not _EMBEDDED_FEED.search(body):
        raise _html_not_feed(feed_url)  # else a feed wrapped in an (X)HTML page, seen in the wild
    if kind in ("jsonfeed", "sitemap"):
        skipped: Counter[str] = Counter()
        read = parse_json_feed if kind == "jsonfeed" else parse_sitemap
        entries = read(
            body,
            feed_url=feed_url,
            base_url=base_url,
            max_entries=max_entries,
            feed_tags=feed_tags,
            skipped=skipped,
        )
        return FeedDocument(entries, dict(skipped))
    if kind == "sitemapindex":
        children, recent = sitemap_index(body, url=feed_url)
        raise SitemapIndex(
            f"a sitemap index listing {len(children)} sitemaps, not a feed of articles",
            url=feed_url,
            children=children,
            recent=recent,
        )
    return _parse_with_feedparser(
        body,
        kind=kind,
        feed_url=feed_url,
        base_url=base_url,
        content_type=content_type,
        max_entries=max_entries,
        feed_tags=feed_tags,
    )
