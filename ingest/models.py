"""The typed items that flow between stages, what each item commits, and the published schema.

    FeedEntry ──fetch──► FetchedPage ──extract──► Extracted ──normalise──► Article ──publish──► Ack
                                  every item carries a Ticket: what to commit once it ended

Items between stages are frozen dataclasses (cheap, internal). ``Article`` is the public contract:
a pydantic model whose JSON Schema is committed as ``schemas/article.v1.json``. Every string a
model is built with is made valid Unicode first (``ingest.text.valid_text``): whatever a page or a
feed held, a model always serialises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from ingest.errors import IngestError
from ingest.text import valid_text

SCHEMA_VERSION = 1

# A near-duplicate row as stored: (article id, story id, the text's sketch (``ingest.stages.copies``),
# publication time in epoch seconds).
FingerprintRow = tuple[str, str, bytes, float]
OutcomeKind = Literal["published", "dropped", "dead_lettered", "deferred", "queued"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one item ended. Every kind but ``deferred`` is terminal: the item is committed."""

    kind: OutcomeKind
    reason: str | None = None

    @property
    def terminal(self) -> bool:
        return self.kind != "deferred"


class Origin(Protocol):
    """Where an item came from (a feed's poll, a link's offset), told once the item is committed."""

    def committed(self) -> None: ...


@dataclass(slots=True)
class Ticket:
    """What one item commits once it ended terminally and its tail was acknowledged: arroyo's
    committable carried on the message. Stages fill it in as they take responsibility for the item
    (the key once it is claimed, the content hash once it is known); the runner's
    one commit step writes it to the state store and then tells the origin. ``holds`` release what
    the item held while in flight (its key, its text), told whether it was committed."""

    origin: Origin
    key: str | None = None
    article_id: str = ""
    content_hash: str | None = None
    sketch: bytes | None = None  # the text's near-duplicate sketch, where the extract stage made it
    holds: list[Callable[[bool], None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Drop:
    """Intentional filtering: not an error. ``reason`` is a short label-safe code."""

    reason: str


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a feed, parsed and typed. ``key`` is its identity (canonical URL, else GUID)."""

    key: str
    feed_url: str
    link: str | None
    canonical_url: str | None
    guid: str | None
    title: str | None
    summary: str | None
    content_html: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    updated_at: datetime | None
    tags: tuple[str, ...]
    language: str | None
    feed_title: str | None
    discovered_at: datetime
    feed_tags: tuple[str, ...] = ()

    @property
    def language_code(self) -> str | None:
        """ISO 639-1 code of the feed's stated language (``en-us`` -> ``en``)."""
        code = (self.language or "").strip()[:2].lower()
        return code if len(code) == 2 and code.isalpha() and code.isascii() else None


@dataclass(frozen=True, slots=True)
class Validators:
    """What a conditional GET sends back: the feed's ETag and Last-Modified."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """An article page as fetched, or the error that stopped the fetch (extract falls back)."""

    entry: FeedEntry
    url: str | None
    body: bytes | None
    content_type: str | None
    fetched_at: datetime
    error: IngestError | None = None
    status: int | None = None
    skipped: str | None = None  # not used on purpose (robots_txt, login_wall): not an error


@dataclass(frozen=True, slots=True)
class PageMetadata:
    """What extraction found on a page (or in the feed entry), before normalisation."""

    title: str | None = None  # og:title or the JSON-LD headline
    document_title: str | None = None  # the page's <title>: last resort, it often carries the site name
    headings: tuple[str, ...] = ()  # the page's first <h1> elements: the headline, or the site's logo
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    published_date: date | None = None
    language: str | None = None
    site_name: str | None = None  # og:site_name, the JSON-LD publisher's name or application-name
    site_handle: str | None = None  # the site's social account (twitter:site), without the "@"
    description: str | None = None
    image_url: str | None = None
    canonical_url: str | None = None
    tags: tuple[str, ...] = ()


# Where an article's body came from: read from the fetched page by an extractor, taken from the
# page's own JSON-LD articleBody, or the feed's own content.
PageMethod = Literal["trafilatura", "json_ld", "readability"]
Method = Literal[PageMethod, "feed"]


@dataclass(frozen=True, slots=True)
class Extracted:
    """Body text and metadata of one article, from the page or from the feed entry."""

    page: FetchedPage
    text: str
    metadata: PageMetadata
    method: Method
    fallback_reason: str | None = None
    extractor_version: str | None = None
    fallback_detail: str | None = None  # why the page was not used, for the log


def _valid(value: Any) -> Any:
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list | tuple):
        return [_valid(v) for v in value]
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _valid_text(cls, value: Any) -> Any:
        return _valid(value)


class Source(_Model):
    """Where the article came from."""

    feed_url: str = Field(
        description="URL of the feed that announced the article; for an article read from a web "
        "archive (ingest backfill), the archive's path or URL."
    )
    feed_title: str | None = Field(description="Title of that feed, as the feed states it.")
    site_name: str | None = Field(
        description="Name of the publishing site: og:site_name or the publisher's, unless it does "
        "not spell the site's domain while the page's <title> or social account does."
    )
    domain: str = Field(description="Host name of the article's canonical URL, lower-case.")


class Extraction(_Model):
    """How the body was obtained."""

    method: Method = Field(
        description="Where the body came from: 'trafilatura' or 'readability', extracted from the fetched "
        "page by that extractor; 'json_ld', the page's own articleBody; 'feed', the feed's own content."
    )
    extractor_version: str | None = Field(description="Version of the extractor used, if any.")
    fallback_reason: str | None = Field(
        description="Why the page was not used when method is 'feed' (e.g. http_404, no_text)."
    )
    http_status: int | None = Field(description="HTTP status of the article fetch, if fetched.")
    final_url: str | None = Field(description="URL the page was finally served from (redirects).")


class Dateline(_Model):
    """Where a wire story was filed, as its dateline states it."""

    place: str = Field(description='The place as written, e.g. "DAMASCUS"; empty for "(Bloomberg) --".')
    raw: str = Field(description='The dateline as it opened the body, e.g. "PARIS, Feb 11 (AFP) -".')


class Article(_Model):
    """A news article as published on the articles topic (schema version 1)."""

    schema_version: Literal[1] = Field(default=1, description="Version of this schema.")
    id: str = Field(description="Stable id: sha256 of the canonical URL (hex, 32 chars). Kafka key.")
    url: str | None = Field(description="Article link as the feed gave it (absolute).")
    canonical_url: str | None = Field(
        description="Canonical form of the link: lower-case scheme and host, no default port, "
        "no fragment, no tracking parameters. Null only for link-less entries known by GUID."
    )
    guid: str | None = Field(description="The feed entry's GUID / Atom id, if any.")
    title: str | None = Field(description="Headline.")
    body: str = Field(
        description="Plain text; paragraphs separated by one blank line; without the dateline "
        "prefix, photo captions and agency credit lines (see dateline, captions, credits)."
    )
    dateline: Dateline | None = Field(
        default=None, description="The dateline that opened the story, moved out of the body."
    )
    credits: list[str] = Field(
        default_factory=list,
        description="Wire agencies credited (AFP, Reuters, AP, dpa, ...), from the credit line, "
        "dateline, bylines and metadata; canonical spellings.",
    )
    captions: list[str] = Field(
        default_factory=list, description="Photo captions found at the head of the body."
    )
    summary: str | None = Field(description="Short description from the page or the feed.")
    authors: list[str] = Field(description="Author names, de-duplicated, in stated order.")
    published_at: AwareDatetime | None = Field(
        description="Publication time in UTC (RFC 3339), only when a time is stated; never invented."
    )
    published_date: date | None = Field(
        description="Publication date when only a date, no time, is stated (else null)."
    )
    updated_at: AwareDatetime | None = Field(description="Last modification time in UTC, or null.")
    discovered_at: AwareDatetime = Field(description="When the feed entry was first seen (UTC).")
    fetched_at: AwareDatetime = Field(description="When the page was fetched or extracted (UTC).")
    language: str | None = Field(description="ISO 639-1 code of the text's language, or null.")
    source: Source
    tags: list[str] = Field(
        description="Configured feed tags, then entry and page categories without newsroom "
        'furniture (CMS codes, routing labels, ids, generic labels such as "News").'
    )
    image_url: str | None = Field(description="Lead image URL (og:image), if stated.")
    content_hash: str = Field(
        description="sha256 (hex) of the body's words, case-folded and joined by single spaces."
    )
    fingerprint: str = Field(
        default="",
        description="64-bit SimHash of the body's word shingles (16 hex digits): near-duplicate "
        "texts differ in few bits.",
    )
    story_id: str = Field(
        default="",
        description="Id of the story this article belongs to: the id of the first copy seen of a "
        "syndicated story, else the article's own id.",
    )
    duplicate_of: str | None = Field(
        default=None,
        description="Id of the earlier article this one is a near-duplicate of (same story "
        "republished with another headline, intro or site furniture), else null.",
    )
    word_count: int = Field(description="Number of words in the body.")
    extraction: Extraction


class DeadLetter(_Model):
    """A message on the dead-letter topic: what could not be processed and why."""

    schema_version: Literal[1] = Field(default=1, description="Version of this schema.")
    key: str = Field(description="Identity key of the entry (canonical URL or GUID).")
    reason: str = Field(description="Short, stable reason code (e.g. http_404, no_content).")
    error: str = Field(description="Human-readable description of the failure.")
    stage: str = Field(description="Pipeline stage where the item failed.")
    url: str | None = Field(description="The entry's link, if it has one.")
    feed_url: str = Field(description="The feed (or archive) the entry came from.")
    title: str | None = Field(description="The entry's title, at most 1,000 characters.")
    failed_at: AwareDatetime = Field(description="When the item failed (UTC).")


SCHEMA_BASE_URI = "https://ingest.example/schemas/"
ARTICLE_SCHEMA = "article.v1.json"
DEAD_LETTER_SCHEMA = "dead_letter.v1.json"
_SCHEMAS: dict[str, type[_Model]] = {ARTICLE_SCHEMA: Article, DEAD_LETTER_SCHEMA: DeadLetter}


def schema_uri(name: str) -> str:
    """The ``$id`` of a committed schema: what ``ce_dataschema`` points at."""
    return SCHEMA_BASE_URI + name


def json_schema(name: str) -> dict[str, object]:
    """The JSON Schema committed as ``schemas/<name>`` (``article.v1.json``, ``dead_letter.v1.json``)."""
    schema = _SCHEMAS[name].model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = schema_uri(name)
    return schema


def committed_schemas() -> dict[str, dict[str, object]]:
    """Every schema the repository commits under ``schemas/``, by file name (``make schema``)."""
    return {name: json_schema(name) for name in _SCHEMAS}


def schema_file_text(schema: dict[str, object]) -> str:
    """A schema as its file under ``schemas/`` holds it (and the broker's registry)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
