"""What a page states about itself: meta tags, JSON-LD, ``<html lang>``, the canonical link.

Read from the parsed tree, with times and their zones (trafilatura reports dates without their
time). A pure function of the tree, run in a worker process with the extraction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from lxml.html import HtmlElement

from ingest.models import PageMetadata
from ingest.text import html_to_text

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
_MAX_HEADINGS = 3
_MAX_HEADING_CHARS = 1000


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
_LIST_SPLIT = re.compile(r"[,;]")  # "a, b" in keywords, "a;b" in news_keywords
_TAG_META = ("article:tag", "news_keywords", "keywords", "article:section", "parsely-section")


def _first(meta: dict[str, list[str]], *names: str) -> str | None:
    return next((meta[n][0] for n in names if n in meta), None)


def _text_list(value: Any) -> list[str]:
    """Strings from a JSON-LD value that is a string, a comma-separated string, or a list of them."""
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items if isinstance(item, str) for part in _LIST_SPLIT.split(item)]


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
        found += [p.strip() for v in values for p in (_LIST_SPLIT.split(v) if len(values) == 1 else [v])]
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
    return _first(meta, "og:site_name") or _publisher(article) or _first(meta, "application-name")


def _site_handle(meta: dict[str, list[str]]) -> str | None:
    """The site's account as ``twitter:site`` gives it ("@gazette" → "gazette")."""
    handle = (_first(meta, "twitter:site") or "").strip().lstrip("@")
    return handle if handle and " " not in handle and "/" not in handle else None


# Every spelling of a story's publication and modification times in meta tags (name, property or
# itemprop, compared in lower case), most specific first.
_PUBLISHED = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "article:published",
    "datepublished",
    "published_time",
    "publish-date",
    "publishdate",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
)
_MODIFIED = (
    "article:modified_time",
    "og:article:modified_time",
    "og:updated_time",
    "article:modified",
    "datemodified",
    "modified_time",
    "dc.date.modified",
    "dcterms.modified",
)


def _stated_time(
    tree: HtmlElement, meta: dict[str, list[str]], names: tuple[str, ...]
) -> datetime | date | None:
    """The first of ``names`` in the meta tags that holds a time (a ``datetime``, or a ``date``
    alone), else a ``<time>`` element with that schema.org property (``itemprop="datePublished"``)."""
    for name in names:
        for value in meta.get(name, ()):
            if (stated := parse_timestamp(value)) is not None:
                return stated
    for el in tree.iter("time"):
        prop = (el.get("itemprop") or "").strip().lower()
        if prop in names and (stated := parse_timestamp(el.get("datetime") or el.text_content())) is not None:
            return stated
    return None


def page_metadata(tree: HtmlElement) -> PageMetadata:
    """Metadata stated by the page: meta tags, JSON-LD, ``<html lang>``, canonical link."""
    meta = _meta(tree)
    objects = list(_jsonld_objects(tree))
    article = next((o for o in objects if _is_article(o)), {})
    graph = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str)}
    published = parse_timestamp(article.get("datePublished")) or _stated_time(tree, meta, _PUBLISHED)
    updated = parse_timestamp(article.get("dateModified")) or _stated_time(tree, meta, _MODIFIED)
    canonical = next(
        (el.get("href") for el in tree.iter("link") if (el.get("rel") or "").lower() == "canonical"),
        None,
    )
    headline = article.get("headline") if isinstance(article.get("headline"), str) else None
    document_title = next(tree.iter("title"), None)
    headings = (
        h.text_content().strip()[:_MAX_HEADING_CHARS]
        for _, h in zip(range(_MAX_HEADINGS), tree.iter("h1"), strict=False)
    )
    return PageMetadata(
        title=_first(meta, "og:title") or headline,
        document_title=document_title.text_content().strip() if document_title is not None else None,
        headings=tuple(h for h in headings if h),
        authors=tuple(_person_names(article.get("author"), graph) or _meta_authors(meta)),
        published_at=published if isinstance(published, datetime) else None,
        updated_at=updated if isinstance(updated, datetime) else None,
        published_date=published if type(published) is date else None,
        language=language_code(tree.get("lang")) or language_code(_first(meta, "og:locale")),
        site_name=_site_name(meta, article),
        site_handle=_site_handle(meta),
        description=_first(meta, "og:description", "description", "twitter:description"),
        image_url=_first(meta, "og:image", "twitter:image"),
        canonical_url=canonical,
        tags=tuple(_keywords(article, meta)),
    )


def article_body(tree: HtmlElement) -> str:
    """The body text the page states in its JSON-LD (``articleBody`` of its longest article object),
    as paragraphs; empty when it states none."""
    bodies = [
        html_to_text(o["articleBody"])
        for o in _jsonld_objects(tree)
        if _is_article(o) and isinstance(o.get("articleBody"), str)
    ]
    return max(bodies, key=len, default="")
