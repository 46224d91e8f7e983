"""Sitemaps to typed entries: Google News sitemaps, plain ``<urlset>`` sitemaps, sitemap indexes.

Parsed with lxml, never feedparser, by a parser that resolves no entity, loads no DTD, opens no
network or file, and keeps libxml2's limits on depth and text size; streamed, so that a sitemap of
50,000 URLs costs no more than the entries taken from it. Bodies may be gzip-compressed (``.xml.gz``):
they are decompressed up to 50 MB, the protocol's limit.

- ``<urlset>``: one entry per ``<url><loc>``. A Google News sitemap (namespace
  ``http://www.google.com/schemas/sitemap-news/0.9``) also gives the title (``news:title``), the
  publication time (``news:publication_date``, kept only with a time and zone), the publication's name
  as feed title, its language and the keywords as tags. ``<lastmod>`` with a time and zone is the
  update time; it is never taken for the publication time.
- ``<sitemapindex>``: a list of child sitemaps, not of articles; ``sitemap_index`` lists them and
  picks those worth polling, and ``parse_feed`` raises ``SitemapIndex`` carrying both, for the
  pipeline to poll the recent ones as feeds of their own.

Runs in a worker process (see ``ingest.pipeline``): pure functions of their arguments.
"""

from __future__ import annotations

import io
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import lxml.etree

from ingest.errors import ParseError
from ingest.models import FeedEntry
from ingest.source.entries import http_link, identity, parse_datetime, parse_error, unique_lines
from ingest.source.sniff import GZIP_MAGIC
from ingest.text import clean_line

MAX_DECOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_CHILDREN = 50_000  # the protocol's limit of sitemaps in one index
MAX_FOLLOWED = 20  # child sitemaps polled for one index
RECENT_WINDOW = timedelta(days=2)  # a Google News sitemap holds the last two days
NEWS_NAMESPACE = "http://www.google.com/schemas/sitemap-news/0.9"

# Entities stay unexpanded (no XXE, no billion laughs), no DTD, no network, libxml2's size limits.
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


class SitemapIndex(ParseError):
    """The document is a sitemap index: it lists child sitemaps (``children``), not articles."""

    reason = "sitemap_index"

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        children: tuple[str, ...] = (),
        recent: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, url=url)
        self.children = children
        self.recent = recent  # the children worth polling (see ``recent_children``)


def gunzip(body: bytes, *, url: str | None) -> bytes:
    """``body`` decompressed if it is gzip (magic bytes 1f 8b), else as it is.

    Raises ``ParseError`` ``too_large`` past 50 MB decompressed and ``invalid_gzip`` for a corrupt
    stream; a truncated stream gives what it holds.
    """
    if body[:2] != GZIP_MAGIC:
        return body
    out = bytearray()
    data = body
    try:
        while data[:2] == GZIP_MAGIC:  # members one after another; trailing garbage is ignored
            stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while data and not stream.eof:
                out += stream.decompress(data, MAX_DECOMPRESSED_BYTES + 1 - len(out))
                if len(out) > MAX_DECOMPRESSED_BYTES:
                    raise parse_error(
                        "too_large",
                        f"gzip body decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes",
                        url=url,
                    )
                data = stream.unconsumed_tail
            data = stream.unused_data if stream.eof else b""
    except zlib.error as exc:
        raise parse_error("invalid_gzip", f"corrupt gzip body: {exc}", url=url) from exc
    return bytes(out)


def _local(tag: object) -> str:
    """Local name of an element's tag (``{namespace}name`` -> ``name``); '' for comments and the like."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _namespace(tag: object) -> str:
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _records(body: bytes, root_name: str, record_name: str, limit: int, url: str | None) -> Iterator[Any]:
    """The ``record_name`` children of a ``root_name`` root, at most ``limit``, each freed after use.

    Raises ``ParseError`` when the root is another element, or the XML is broken before any record.
    """
    depth = 0
    taken = 0
    events = lxml.etree.iterparse(io.BytesIO(body), events=("start", "end"), **_PARSER_OPTIONS)
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1 and _local(element.tag) != root_name:
                    raise parse_error(
                        "not_a_feed", f"not a sitemap: root element is <{_local(element.tag)}>", url=url
                    )
                continue
            depth -= 1
            if depth != 1:
                continue
            if _local(element.tag) == record_name:
                if taken >= limit:
                    return
                taken += 1
                yield element
            element.clear(keep_tail=False)
            while element.getprevious() is not None:  # free what was read
                del element.getparent()[0]
    except lxml.etree.XMLSyntaxError as exc:
        if taken == 0:
            raise parse_error("invalid_xml", f"not well-formed XML: {exc}", url=url) from exc
        # A broken or truncated tail: keep the records read before it.


def _child(element: Any, name: str) -> Any:
    """The first child element named ``name`` (any namespace), or None."""
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element: Any) -> str | None:
    """The text content of an element, stripped; None if absent or empty."""
    if element is None:
        return None
    value = "".join(t for t in element.itertext() if isinstance(t, str)).strip()
    return value or None


def _news(url_element: Any) -> Any:
    """The ``<news:news>`` block of a ``<url>``, or None."""
    for child in url_element:
        if _local(child.tag) == "news" and _namespace(child.tag).rstrip("/").endswith("sitemap-news/0.9"):
            return child
    return None


def _entry(
    element: Any, *, feed_url: str, base_url: str, feed_tags: tuple[str, ...], now: datetime
) -> FeedEntry | None:
    link = http_link(_text(_child(element, "loc")), base_url)
    ident = identity(link, None, feed_url)
    if ident is None:
        return None
    key, canonical = ident
    news = _news(element)
    publication = _child(news, "publication") if news is not None else None
    title = language = feed_title = keywords = published = None
    if news is not None:
        title = _text(_child(news, "title"))
        published = _text(_child(news, "publication_date"))
        keywords = _text(_child(news, "keywords"))
        language = _text(_child(news, "language"))
        if publication is not None:
            feed_title = _text(_child(publication, "name"))
            language = _text(_child(publication, "language")) or language
    return FeedEntry(
        key=key,
        feed_url=feed_url,
        link=link,
        canonical_url=canonical,
        guid=None,
        title=clean_line(title or "") or None,
        summary=None,
        content_html=None,
        authors=(),
        published_at=parse_datetime(published, now),
        updated_at=parse_datetime(_text(_child(element, "lastmod")), now),
        tags=unique_lines((keywords or "").split(",")),
        language=clean_line(language or "") or None,
        feed_title=clean_line(feed_title or "") or None,
        discovered_at=now,
        feed_tags=feed_tags,
    )


def parse_sitemap(
    body: bytes,
    *,
    feed_url: str,
    base_url: str,
    max_entries: int,
    feed_tags: tuple[str, ...] = (),
    skipped: Counter[str] | None = None,
) -> tuple[FeedEntry, ...]:
    """Entries of a ``<urlset>`` sitemap (plain or Google News), at most ``max_entries`` URLs read;
    a ``<url>`` without an http(s) ``<loc>`` is counted in ``skipped`` as ``no_identity``.

    Raises ``ParseError``: ``invalid_xml``, ``not_a_feed`` (another root), ``too_large``/``invalid_gzip``.
    """
    body = gunzip(body, url=feed_url)
    now = datetime.now(UTC)
    entries = [
        _entry(element, feed_url=feed_url, base_url=base_url, feed_tags=feed_tags, now=now)
        for element in _records(body, "urlset", "url", max(max_entries, 0), feed_url)
    ]
    found = tuple(e for e in entries if e is not None)
    if skipped is not None and len(found) < len(entries):
        skipped["no_identity"] += len(entries) - len(found)
    return found


def sitemap_index(body: bytes, *, url: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every child sitemap, the ones worth polling) of a ``<sitemapindex>``, read in one pass.

    Every child: absolute http(s) URLs, in order, once each. Worth polling, newest first: when the
    index dates its children (``<lastmod>``), those changed within ``RECENT_WINDOW`` of the newest
    (undated ones are old archives, as a rule); when it dates none, the first ones in its order. At
    most ``MAX_FOLLOWED``. Raises ``ParseError`` (naming ``url``, the index's own URL, if given) when
    ``body`` is not one.
    """
    records = list(_index_records(body, url))
    dated = [(when, link) for link, when in records if when is not None]
    if not dated:
        chosen = [link for link, _ in records]
    else:
        newest = max(when for when, _ in dated)
        dated.sort(key=lambda pair: pair[0], reverse=True)
        chosen = [link for when, link in dated if newest - when <= RECENT_WINDOW]
    every = tuple(dict.fromkeys(link for link, _ in records))
    return every, tuple(dict.fromkeys(chosen))[:MAX_FOLLOWED]


def sitemap_children(body: bytes, *, url: str | None = None) -> tuple[str, ...]:
    """Every child sitemap of an index (see ``sitemap_index``)."""
    return sitemap_index(body, url=url)[0]


def recent_children(body: bytes, *, url: str | None = None) -> tuple[str, ...]:
    """The child sitemaps of an index worth polling (see ``sitemap_index``)."""
    return sitemap_index(body, url=url)[1]


def _index_records(body: bytes, url: str | None) -> Iterator[tuple[str, datetime | None]]:
    body = gunzip(body, url=url)
    now = datetime.now(UTC)
    for element in _records(body, "sitemapindex", "sitemap", MAX_CHILDREN, url):
        link = http_link(_text(_child(element, "loc")))
        if link:
            yield link, _lastmod(_text(_child(element, "lastmod")), now)


def _lastmod(value: str | None, now: datetime) -> datetime | None:
    """A child's ``<lastmod>``: a full timestamp, or a date alone (taken as its midnight UTC), which
    is enough to tell this week's sitemap from last year's."""
    stamp = parse_datetime(value, now)
    if stamp is not None or not value:
        return stamp
    try:
        day = date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
