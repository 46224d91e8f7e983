"""Normalise: one ``Article`` (schema v1) from an extraction, its feed entry and the feed's config.

Page metadata wins over the feed's where both state a value, except that a missing page value falls
back to the feed's. Nothing is invented: no time without a stated time, no language without a sign.
``normalise`` is a pure function (wire-copy regexes and the fingerprint run over hostile text), run
in a worker process by the extract stage, in the same call as the extraction (``ingest.stages.article``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from ingest.errors import NoContent
from ingest.models import Article, Extracted, Extraction, PageMetadata, Source
from ingest.models import Dateline as DatelineField
from ingest.stages.labels import clean_tags, domain_label, site_name
from ingest.stages.similar import fingerprint
from ingest.stages.wire import split_wire_copy
from ingest.text import clean_line, content_hash, normalise_paragraphs, word_count
from ingest.urls import article_id, domain_of

MAX_TITLE_CHARS = 1000
MAX_SUMMARY_CHARS = 5000
MAX_AUTHORS = 20
MAX_BODY_CHARS = 200_000
_SEPARATORS = (" | ", " -- ", " - ", " – ", " — ", " :: ", " · ", " » ")
_MAX_SITE_WORDS = 4
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\||\band\b|&|\bund\b|\bet\b|\by\b|\be\b)\s*")
_PARTICLES = frozenset(
    "van von der den de del della di da dos das du la le bin ibn al el ben ter ten zu y".split()
)
_NOT_NAMES = frozenset(
    (
        "staff writer reporter correspondent editor editors contributor columnist journalist desk "
        "team news agency newsroom online redaktion rédaction redacción redazione press media "
        "senior chief political business sports editorial associated photo photos video updated "
        "published images getty reuters afp dpa efe ansa xinhua bloomberg admin"
    ).split()
)
# What opens a byline before the name, in the languages the tests cover: "By", "Written by", "Text:",
# "Von", "Par", "Por", "Di", "A cura di", "Door", "Av", "Af", "Autor:", "Текст", "Автор:".
_BYLINE = re.compile(
    r"^(?:(?:written|reported|reporting|posted|story|words|text)\s+by|by|von|par|por|di|a cura di|"
    r"door|av|af|text|texto|testo|tekst|texte|autor|autorin|auteur|autore|yazan|текст|автор|авторы)"
    r"\s*[:：]?(?:\s+|$)",
    re.IGNORECASE,
)


def _loose(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def clean_title(title: str | None, site_names: Iterable[str | None]) -> str | None:
    """The headline without a site-name suffix or prefix (" | Site", "Site: ", or a name of
    several words glued to its end: "…la InfantaUltima Hora Mallorca")."""
    if not title:
        return None
    title = clean_line(title)
    raw_names = [clean_line(n) for n in site_names if n]
    names = {_loose(n) for n in raw_names if _loose(n)}
    if names:
        for sep in (*_SEPARATORS, ": "):
            head, found, tail = title.rpartition(sep)
            if found and head and _loose(tail) in names:
                title = head.strip()
                break
            head, found, tail = title.partition(sep)
            if found and tail and _loose(head) in names:
                title = tail.strip()
                break
        for name in raw_names:
            head = title[: len(title) - len(name)]
            if " " in name and title.casefold().endswith(name.casefold()) and len(head.split()) >= 3:
                title = head.rstrip(" |-–—:·»")
                break
    return title[:MAX_TITLE_CHARS] or None


def title_site_name(document_title: str | None) -> str | None:
    """The site's name as a page's <title> states it: the shorter end of "Headline | Site" (or
    "Site - Headline"), at most four words, when the other end is longer."""
    if not document_title:
        return None
    for sep in _SEPARATORS:
        parts = [p.strip() for p in document_title.split(sep)]
        if len(parts) < 2:
            continue
        first, last = parts[0], parts[-1]
        shorter, longer = (last, first) if len(last.split()) <= len(first.split()) else (first, last)
        if shorter and len(shorter.split()) <= _MAX_SITE_WORDS and len(longer.split()) > len(shorter.split()):
            return shorter
        return None
    return None


def _names_site(text: str, site_names: Iterable[str | None]) -> bool:
    """Whether a heading is the site's name (its logo), or the start or end of one."""
    key = _loose(text)
    return bool(key) and any(
        n and (_loose(n) == key or _loose(n).startswith(key) or _loose(n).endswith(key)) for n in site_names
    )


def headline(meta: PageMetadata, entry_title: str | None, site_names: tuple[str | None, ...]) -> str | None:
    """The headline in order of trust: og:title or the JSON-LD headline, the feed's title, the
    page's first <h1> that does not name the site, its <title>."""
    heading = next((h for h in meta.headings if not _names_site(h, site_names)), None)
    return (
        clean_title(meta.title, site_names)
        or clean_title(entry_title, site_names)
        or clean_title(heading, site_names)
        or clean_title(meta.document_title, site_names)
    )


def _person_name(candidate: str) -> bool:
    """Two to five words that read as a name: capitalised (or uncased scripts), name particles
    allowed; no digits, no addresses, no role or newsroom words."""
    words = candidate.split()
    uncased = not any(c.isupper() or c.islower() for c in candidate)
    if len(words) == 1 and uncased and 2 <= len(candidate) <= 6:
        return True  # e.g. a name in Chinese script, written without spaces
    if not 2 <= len(words) <= 5 or len(candidate) > 60 or any(c.isdigit() for c in candidate):
        return False
    if "@" in candidate or "/" in candidate or "http" in candidate.lower():
        return False
    if {w.lower().strip(".") for w in words} & _NOT_NAMES:
        return False
    if all(w.isalpha() and w.islower() for w in words):
        return True  # a byline styled all in lower case
    return all(w.lower() in _PARTICLES or not w[0].islower() for w in words)


def clean_authors(names: Iterable[str], site_names: Iterable[str | None]) -> list[str]:
    """Person names only: no "By", no roles or bios after a comma, no site or agency names."""
    banned = {_loose(n) for n in site_names if n}
    seen: dict[str, str] = {}
    for raw in names:
        for part in _AUTHOR_SPLIT.split(clean_line(raw)):
            name = _BYLINE.sub("", part).strip(" ,.·|-–—")
            key = _loose(name)
            if name and key not in banned and key not in seen and _person_name(name):
                seen[key] = name
    return list(seen.values())[:MAX_AUTHORS]


def _body(text: str, headlines: Iterable[str | None]) -> str:
    """Clean paragraphs, without a leading copy of a headline the page or feed states, at most
    ``MAX_BODY_CHARS`` long (cut at a paragraph boundary where there is one)."""
    body = normalise_paragraphs(text)
    first, _, rest = body.partition("\n\n")
    if rest and _loose(first) in {_loose(h) for h in headlines if h}:
        body = rest
    if len(body) > MAX_BODY_CHARS:
        cut = body.rfind("\n\n", 0, MAX_BODY_CHARS)
        body = body[: cut if cut > 0 else MAX_BODY_CHARS]
    return body


def _not_future_date(day: date | None, now: datetime) -> date | None:
    return day if day is not None and day <= now.date() else None


def _not_future(moment: datetime | None, now: datetime) -> datetime | None:
    return moment if moment is not None and moment <= now else None


def build_article(extracted: Extracted) -> Article:
    page, meta = extracted.page, extracted.metadata
    entry = page.entry
    now = datetime.now(UTC)
    domain = domain_of(entry.link or entry.feed_url)
    title_end = title_site_name(meta.document_title)
    named = site_name(meta.site_name, title_end, meta.site_handle, domain)
    site_names = (named, domain, domain_label(domain), entry.feed_title, title_end)
    title = headline(meta, entry.title, site_names)
    stated = (title, meta.title, entry.title, *meta.headings, clean_title(meta.document_title, site_names))
    bylines = meta.authors or entry.authors
    wire = split_wire_copy(_body(extracted.text, stated), title=title, byline=bylines)
    body = wire.body
    summary = meta.description or entry.summary
    published_at = _not_future(meta.published_at or entry.published_at, now)
    key_url = entry.canonical_url or entry.feed_url
    return Article(
        id=article_id(entry.key),
        url=entry.link,
        canonical_url=entry.canonical_url,
        guid=entry.guid,
        title=title,
        body=body,
        dateline=DatelineField(place=wire.dateline.place, raw=wire.dateline.raw) if wire.dateline else None,
        credits=list(wire.credits),
        captions=list(wire.captions),
        summary=clean_line(summary)[:MAX_SUMMARY_CHARS] if summary else None,
        authors=clean_authors(bylines, site_names),
        published_at=published_at,
        published_date=None if published_at else _not_future_date(meta.published_date, now),
        updated_at=_not_future(meta.updated_at or entry.updated_at, now),
        discovered_at=entry.discovered_at,
        fetched_at=page.fetched_at,
        language=meta.language or entry.language_code,
        source=Source(
            feed_url=entry.feed_url,
            feed_title=entry.feed_title,
            site_name=named,
            domain=domain_of(key_url),
        ),
        tags=clean_tags(entry.feed_tags, entry.tags, meta.tags),
        image_url=meta.image_url,
        content_hash=content_hash(body),
        fingerprint=f"{fingerprint(body):016x}",
        story_id=article_id(entry.key),
        word_count=word_count(body),
        extraction=Extraction(
            method=extracted.method,
            extractor_version=extracted.extractor_version,
            fallback_reason=extracted.fallback_reason,
            http_status=page.status,
            final_url=page.url,
        ),
    )


def normalise(extracted: Extracted) -> Article:
    """The article; raises ``NoContent`` when nothing is left of its body."""
    article = build_article(extracted)
    if not article.body:
        raise NoContent("no body text after normalisation", url=article.url)
    return article
