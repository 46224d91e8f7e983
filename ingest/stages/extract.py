"""Extract: body text and metadata of a page with trafilatura, or the feed entry's own content.

``extract_html`` is a pure function of bytes, run in a worker process by the pipeline. trafilatura
extracts the body; the metadata is what the page states in its meta tags and JSON-LD, read here, with
times and zones (trafilatura reports dates without their time). trafilatura's costlier searches of the
page run only for what the page does not state: a byline when no author is named, a date (htmldate)
when no publication date is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import lxml.html
import trafilatura
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura import metadata as trafilatura_metadata

from ingest.errors import IngestError, NoContent, ParseError, TransientError
from ingest.models import Extracted, FeedEntry, FetchedPage, PageMetadata
from ingest.stages.language import detect_language, warm_up
from ingest.text import html_to_text, word_count

TRAFILATURA_VERSION: str = getattr(trafilatura, "__version__", "unknown")
_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "blogposting",
    "socialmediaposting",
    "liveblogposting",
    "report",
    "webpage",
}
_LANG = re.compile(r"^([a-zA-Z]{2})(?:[-_][a-zA-Z0-9]+)*$")
_MAX_JSONLD_BYTES = 512 * 1024
# A page whose text is much shorter than the feed's own full content is likely a teaser or paywall.
_SHORT_PAGE_WORDS = 150
_EXTRACTION: dict[str, Any] = {"include_comments": False, "include_tables": True, "deduplicate": False}
# Below this many words, a precision-mode extraction is checked against the default mode's, which
# replaces it when the precision text is under this fraction of the default text's length.
_THIN_WORDS = 100
_THIN_RATIO = 0.6


def parse_timestamp(value: Any) -> datetime | date | None:
    """An aware UTC datetime when ``value`` states a time with a zone; a date when it states only a
    date (or a time without a zone, whose instant is unknown); None otherwise."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None
    if len(text) <= 10:
        return moment.date()
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC)


def language_code(value: Any) -> str | None:
    """ISO 639-1 code from a language tag such as ``en-GB`` or ``de_DE``."""
    if not isinstance(value, str):
        return None
    match = _LANG.match(value.strip())
    return match.group(1).lower() if match else None


def _meta(tree: HtmlElement) -> dict[str, list[str]]:
    """Each meta tag's values by name, in page order."""
    found: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        name = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = (el.get("content") or "").strip()
        if name and content:
            found.setdefault(name, []).append(content)
    return found


def _jsonld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = script.text or ""
        if len(raw) > _MAX_JSONLD_BYTES:
            continue
        try:
            data = json.loads(raw, strict=False)  # raw line breaks inside strings are common
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if "@graph" in item:
                    stack.append(item["@graph"])
                yield item


def _is_article(obj: dict[str, Any]) -> bool:
    kinds = obj.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds)


def _person_names(value: Any, graph: dict[str, dict[str, Any]]) -> list[str]:
    """Names of the people in a JSON-LD ``author``: strings, Person objects, or references by
    ``@id`` to objects elsewhere in the page's graphs."""
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, dict) and "name" not in item and isinstance(item.get("@id"), str):
            item = graph.get(item["@id"], item)
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and item.get("@type") != "Organization":
            name = item.get("name")
            if isinstance(name, str):
                names.append(name)
    return names


# Meta tags that name a story's authors, in order of trust; values may list several names.
_AUTHOR_META = (
    "author",
    "article:author",
    "dc.creator",
    "dcterms.creator",
    "parsely-author",
    "sailthru.author",
    "byl",
)
# Meta tags that hold a story's topics: several tags, or one comma-separated list.
_TAG_META = ("article:tag", "news_keywords", "keywords", "article:section", "parsely-section")


def _first(meta: dict[str, list[str]], *names: str) -> str | None:
    return next((meta[n][0] for n in names if n in meta), None)


def _text_list(value: Any) -> list[str]:
    """Strings from a JSON-LD value that is a string, a comma-separated string, or a list of them."""
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items if isinstance(item, str) for part in item.split(",")]


def _meta_authors(meta: dict[str, list[str]]) -> list[str]:
    for name in _AUTHOR_META:
        values = [v for v in meta.get(name, ()) if "://" not in v and not v.startswith("@")]
        if values:
            return values
    return []


def _keywords(article: dict[str, Any], meta: dict[str, list[str]]) -> list[str]:
    found = _text_list(article.get("keywords")) + _text_list(article.get("articleSection"))
    for name in _TAG_META:
        values = meta.get(name, [])
        found += [p.strip() for v in values for p in (v.split(",") if len(values) == 1 else [v])]
    unique: dict[str, str] = {}
    for tag in found:
        if tag and tag[0] not in "&@_#" and tag.casefold() not in unique:
            unique[tag.casefold()] = tag
    return list(unique.values())


def _publisher(article: dict[str, Any]) -> str | None:
    publisher = article.get("publisher")
    name = publisher.get("name") if isinstance(publisher, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _site_name(meta: dict[str, list[str]], article: dict[str, Any]) -> str | None:
    name = _first(meta, "og:site_name") or _publisher(article) or _first(meta, "application-name")
    if name:
        return name
    handle = _first(meta, "twitter:site")  # "@gazette": the site's account, named without the @
    return handle.lstrip("@") or None if handle and " " not in handle else None


def page_metadata(tree: HtmlElement) -> PageMetadata:
    """Metadata stated by the page: meta tags, JSON-LD, ``<html lang>``, canonical link."""
    meta = _meta(tree)
    objects = list(_jsonld_objects(tree))
    article = next((o for o in objects if _is_article(o)), {})
    graph = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str)}
    published = parse_timestamp(article.get("datePublished")) or parse_timestamp(
        _first(meta, "article:published_time", "datepublished")
    )
    updated = parse_timestamp(article.get("dateModified")) or parse_timestamp(
        _first(meta, "article:modified_time", "datemodified")
    )
    canonical = next(
        (el.get("href") for el in tree.iter("link") if (el.get("rel") or "").lower() == "canonical"),
        None,
    )
    h1 = next(tree.iter("h1"), None)
    headline = article.get("headline") if isinstance(article.get("headline"), str) else None
    document_title = next(tree.iter("title"), None)
    return PageMetadata(
        title=_first(meta, "og:title") or headline or (h1.text_content().strip() if h1 is not None else None),
        document_title=document_title.text_content().strip() if document_title is not None else None,
        authors=tuple(_person_names(article.get("author"), graph) or _meta_authors(meta)),
        published_at=published if isinstance(published, datetime) else None,
        updated_at=updated if isinstance(updated, datetime) else None,
        published_date=published if type(published) is date else None,
        language=language_code(tree.get("lang")) or language_code(_first(meta, "og:locale")),
        site_name=_site_name(meta, article),
        description=_first(meta, "og:description", "description", "twitter:description"),
        image_url=_first(meta, "og:image", "twitter:image"),
        canonical_url=canonical,
        tags=tuple(_keywords(article, meta)),
    )


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


def extract_html(body: bytes, url: str, content_type: str | None) -> tuple[str, PageMetadata, str | None]:
    """Extract (text, metadata, a date found in the page) from a page. Text lines are paragraphs.

    The metadata is the page's own (meta tags, JSON-LD); trafilatura's costlier searches run only for
    what the page does not state: its byline search when no author is named, htmldate when no
    publication date is. Raises ``ParseError`` when the page cannot be parsed as HTML at all.
    """
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
    text = _recall_if_thin(_as_dict(document).get("text") or "", markup, url)
    if document is None and not text:
        return "", metadata, None
    authors = metadata.authors or tuple(
        a.strip() for a in (trafilatura_metadata.extract_author(tree) or "").split(";") if a.strip()
    )
    date_hint = None
    if metadata.published_at is None and metadata.published_date is None:
        date_hint = find_date(tree, url=url, original_date=True, extensive_search=False)
    merged = replace(
        metadata,
        authors=authors,
        language=detect_language(text, metadata.language),
    )
    return text, merged, date_hint


def _as_dict(document: Any) -> dict[str, Any]:
    if document is None:
        return {}
    return dict(document.as_dict() if hasattr(document, "as_dict") else document)


def _recall_if_thin(text: str, markup: str | bytes, url: str) -> str:
    """The fast precision pass keeps boilerplate out but sometimes misses the body altogether. When
    it found little: ask trafilatura's second opinions (readability, jusText), still in precision
    mode, and keep their text if longer; if that is still little, extract in the default balance and
    keep that if it is substantially longer."""
    if word_count(text) >= _THIN_WORDS:
        return text
    precise = _as_dict(trafilatura.bare_extraction(markup, url=url, favor_precision=True, **_EXTRACTION))
    if len(precise.get("text") or "") > len(text):
        text = str(precise["text"])
        if word_count(text) >= _THIN_WORDS:
            return text
    again = trafilatura.bare_extraction(markup, url=url, with_metadata=False, **_EXTRACTION)
    fuller = str(_as_dict(again).get("text") or "")
    return fuller if len(text) < _THIN_RATIO * len(fuller) else text


def feed_text(entry: FeedEntry) -> str:
    """The feed's own text for an entry: full content if any, else the summary."""
    return html_to_text(entry.content_html or "") or (entry.summary or "")


def from_feed(page: FetchedPage, reason: str, metadata: PageMetadata | None = None) -> Extracted:
    """Fall back to the feed entry's content. Raises when it has none (the error says why)."""
    text = feed_text(page.entry)
    if not text.strip():
        error: IngestError = page.error or NoContent("no text on the page", url=page.entry.link)
        if isinstance(error, TransientError):
            raise error
        raise NoContent(f"no text on the page ({reason}) and none in the feed", url=page.entry.link)
    metadata = metadata or PageMetadata()
    if metadata.language is None:
        metadata = replace(metadata, language=detect_language(text, page.entry.language_code))
    return Extracted(page=page, text=text, metadata=metadata, method="feed", fallback_reason=reason)


def choose(page: FetchedPage, text: str, metadata: PageMetadata, date_hint: str | None) -> Extracted:
    """The page's extraction, unless it is empty or much thinner than the feed's own full content."""
    if date_hint and metadata.published_at is None and metadata.published_date is None:
        stated = parse_timestamp(date_hint)
        if type(stated) is date:
            metadata = replace(metadata, published_date=stated)
    if not text.strip():
        return from_feed(page, "no_text", metadata)
    words = word_count(text)
    if page.entry.content_html and words < _SHORT_PAGE_WORDS:
        fed = html_to_text(page.entry.content_html)
        if word_count(fed) > 2 * words:
            return from_feed(page, "page_text_short", metadata)
    return Extracted(
        page=page,
        text=text,
        metadata=metadata,
        method="trafilatura",
        extractor_version=TRAFILATURA_VERSION,
    )


warm_up()  # worker processes fork from a parent that imported this module: load the model once
