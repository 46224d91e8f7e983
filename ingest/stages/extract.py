"""Extract: body text and metadata of a page, or the feed entry's own content.

``extract_page`` is a pure function of the fetched page, run in a worker process by the extract
stage (``ingest.stages.article``); whatever the page holds, it costs the service no more than a
worker's deadline and memory limit. The body is chosen among several readings of the page
(trafilatura's, the page's own ``articleBody``, readability's) by ``ingest.stages.readings``; the
metadata is what the page states (``ingest.stages.metadata``). trafilatura's costlier searches of
the page run only for what the page does not state: a byline when no author is named, a date
(htmldate) when no publication date is. A page that failed, was not fetched, or holds no text
falls back to the feed's own content.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from functools import partial
from typing import Any

import lxml.html
import trafilatura
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.utils import decode_file

from ingest.errors import (
    IngestError,
    NoContent,
    ParseError,
    PermanentError,
    TransientError,
    UnsupportedContent,
)
from ingest.models import Extracted, FeedEntry, FetchedPage, PageMetadata, PageMethod
from ingest.stages.bylines import searched_authors
from ingest.stages.language import detect_language
from ingest.stages.metadata import article_body, page_metadata, parse_timestamp
from ingest.stages.readings import EXTRACTOR_VERSIONS, THIN_WORDS, Reading, choose_body
from ingest.text import html_to_text, word_count

log = logging.getLogger(__name__)

# A page whose text is much shorter than the feed's own full content is likely a teaser or paywall.
_SHORT_PAGE_WORDS = 150
_EXTRACTION: dict[str, Any] = {"include_comments": False, "include_tables": True, "deduplicate": False}
# Without an independent reading, a thin precision text gives way to the default mode's when it is
# under this fraction of the default text's length.
_THIN_RATIO = 0.6


def _decode(body: bytes, content_type: str | None) -> str | bytes:
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";", 1)[0].strip(" \"'")
    if charset:
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return body  # trafilatura sniffs the encoding


# Signatures of what is not a page, whatever its Content-Type says.
_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"RIFF", "RIFF media (WebP, WAV, AVI)"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\xd0\xcf\x11\xe0", "an Office document"),
    (b"\x1f\x8b", "gzip data"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"%!PS", "a PostScript document"),
    (b"{\\rtf", "an RTF document"),
    (b"wOFF", "a font"),
    (b"wOF2", "a font"),
    (b"\x7fELF", "an executable"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CONTROL = (
    frozenset(range(0x09)) | frozenset(range(0x0E, 0x1B)) | frozenset(range(0x1C, 0x20))
)  # not \t \n \v \f \r ESC
_SNIFF_BYTES = 4096


def refuse_binary(head: bytes) -> None:
    """Raise ``UnsupportedContent`` when the first bytes of a body are not markup or text: a known
    signature, a NUL byte, or more than one byte in twenty a control character."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(_UTF16_BOMS):
        return  # UTF-16 text: NUL bytes are expected
    for magic, what in _MAGIC:
        if start.startswith(magic):
            raise UnsupportedContent(f"not an HTML page: {what}")
    if head[4:8] == b"ftyp":
        raise UnsupportedContent("not an HTML page: ISO media (MP4, HEIF)")
    controls = sum(1 for byte in head if byte in _CONTROL)
    if b"\x00" in head or controls * 20 > len(head):
        raise UnsupportedContent("not an HTML page: binary data")


def extract_html(
    body: bytes, url: str, content_type: str | None
) -> tuple[str, PageMetadata, str | None, PageMethod]:
    """Extract (text, metadata, a date found in the page, the extractor whose reading is the text)
    from a page. Text lines are paragraphs; the text is chosen among several readings
    (``ingest.stages.readings``).

    The metadata is the page's own (meta tags, JSON-LD); trafilatura's costlier searches run only for
    what the page does not state: its byline search when no author is named, htmldate when no
    publication date is. Raises ``ParseError`` when the page is not text (``refuse_binary``: a live
    fetch refuses such a body from its first bytes already) or cannot be parsed as HTML at all.
    """
    try:
        refuse_binary(body[:_SNIFF_BYTES])
    except UnsupportedContent as exc:
        raise ParseError(str(exc), url=url) from None
    markup = _decode(body, content_type)
    try:
        tree = trafilatura.load_html(markup)
    except (ValueError, TypeError) as exc:
        raise ParseError(f"cannot parse HTML: {exc}", url=url) from exc
    if tree is None:
        try:
            tree = lxml.html.document_fromstring(markup)
        except (ValueError, lxml.etree.ParserError) as exc:
            raise ParseError(f"cannot parse HTML: {exc}", url=url) from exc
    metadata = page_metadata(tree)
    document = trafilatura.bare_extraction(tree, url=url, favor_precision=True, fast=True, **_EXTRACTION)
    fast = str(_as_dict(document).get("text") or "")
    more = partial(_more_readings, url, tree, fast)  # taken only where the page needs them
    chosen = choose_body(fast, decode_file(markup), more, _by_length)
    text = chosen.text
    if not text:
        return "", metadata, None, chosen.method
    authors = metadata.authors or searched_authors(tree)
    date_hint = None
    if metadata.published_at is None and metadata.published_date is None:
        date_hint = find_date(tree, url=url, original_date=True, extensive_search=False)
        if date_hint is None:
            date_hint = _searched_date(tree, url)
    merged = replace(
        metadata,
        authors=authors,
        language=detect_language(text, metadata.language),
    )
    return text, merged, date_hint, chosen.method


def _searched_date(tree: HtmlElement, url: str) -> str | None:
    """htmldate's extensive search (free text, footers, dateparser), for a page whose quick search
    found no date. A first of the month is dropped: it is also what a month or a year alone turns
    into ("June 2021", "© 2016"), a day the page never stated."""
    found = find_date(tree, url=url, original_date=True, extensive_search=True)
    return None if found is None or found.endswith("-01") else found


def _as_dict(document: Any) -> dict[str, Any]:
    if document is None:
        return {}
    return dict(document.as_dict() if hasattr(document, "as_dict") else document)


def _more_readings(url: str, tree: HtmlElement, fast: str) -> list[Reading]:
    """The costlier readings, in order of preference: trafilatura's full precision pass (with its
    readability and jusText second opinions, which matter only where the fast pass found little),
    its default balance, the page's ``articleBody``. Each pass reads a copy of the page's tree, parsed
    once."""
    readings = []
    if word_count(fast) < THIN_WORDS:
        precise = _as_dict(trafilatura.bare_extraction(tree, url=url, favor_precision=True, **_EXTRACTION))
        readings.append(Reading("trafilatura", str(precise.get("text") or "")))
    balanced = _as_dict(trafilatura.bare_extraction(tree, url=url, with_metadata=False, **_EXTRACTION))
    readings.append(Reading("trafilatura", str(balanced.get("text") or "")))
    readings.append(Reading("json_ld", article_body(tree)))
    return readings


def _by_length(readings: Sequence[Reading]) -> str:
    """Without an independent reading to judge by: the fast precision text unless it is thin, then
    the full precision text if longer, then the default balance's if substantially longer."""
    text = readings[0].text
    if word_count(text) >= THIN_WORDS:
        return text
    precise, balanced = readings[1].text, readings[2].text
    if len(precise) > len(text):
        text = precise
        if word_count(text) >= THIN_WORDS:
            return text
    return balanced if len(text) < _THIN_RATIO * len(balanced) else text


def feed_text(entry: FeedEntry) -> str:
    """The feed's own text for an entry: full content if any, else the summary."""
    return html_to_text(entry.content_html or "") or (entry.summary or "")


def from_feed(
    page: FetchedPage, reason: str, metadata: PageMetadata | None = None, detail: str | None = None
) -> Extracted:
    """Fall back to the feed entry's content. Raises when it has none (the error says why)."""
    text = feed_text(page.entry)
    if not text.strip():
        error: IngestError = page.error or NoContent("no text on the page", url=page.entry.link)
        if isinstance(error, TransientError):
            raise error
        raise NoContent(
            f"no text on the page ({reason}) and none in the feed",
            url=page.entry.link,
            detail=detail or reason,
        )
    metadata = metadata or PageMetadata()
    if metadata.language is None:
        metadata = replace(metadata, language=detect_language(text, page.entry.language_code))
    return Extracted(
        page=page, text=text, metadata=metadata, method="feed", fallback_reason=reason, fallback_detail=detail
    )


def choose(
    page: FetchedPage,
    text: str,
    metadata: PageMetadata,
    date_hint: str | None,
    method: PageMethod = "trafilatura",
) -> Extracted:
    """The page's extraction, unless it is empty or much thinner than the feed's own full content."""
    if date_hint and metadata.published_at is None and metadata.published_date is None:
        stated = parse_timestamp(date_hint)
        if type(stated) is date:
            metadata = replace(metadata, published_date=stated)
    if not text.strip():
        return from_feed(page, "no_text", metadata, "no text on the page")
    words = word_count(text)
    if page.entry.content_html and words < _SHORT_PAGE_WORDS:
        fed = html_to_text(page.entry.content_html)
        if word_count(fed) > 2 * words:
            return from_feed(page, "page_text_short", metadata, f"the page has {words} words, the feed more")
    return Extracted(
        page=page,
        text=text,
        metadata=metadata,
        method=method,
        extractor_version=EXTRACTOR_VERSIONS[method],
    )


def extract_page(page: FetchedPage) -> Extracted:
    """The page's text and metadata, or the feed's own (see ``from_feed``). The page comes back
    without its body: the next stages need only what was read from it."""
    sent, page = page, replace(page, body=None)
    if sent.skipped:
        return from_feed(page, sent.skipped, detail=str(sent.error) if sent.error else sent.skipped)
    if sent.body is None or sent.url is None:
        why = sent.error.reason if sent.error else "not_fetched"
        return from_feed(page, why, detail=str(sent.error) if sent.error else None)
    try:
        text, metadata, date_hint, method = extract_html(sent.body, sent.url, sent.content_type)
    except PermanentError as exc:
        return from_feed(page, exc.reason, detail=str(exc))
    return choose(page, text, metadata, date_hint, method)
