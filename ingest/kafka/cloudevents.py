"""CloudEvents 1.0 in the Kafka protocol binding's binary mode: the event's attributes travel as
``ce_<name>`` headers (UTF-8), ``datacontenttype`` as ``content-type``, and the message value is the
event's data unchanged, so a consumer that ignores the headers reads the same JSON as before.

Every message the service writes is an event: an article (``example.ingest.article``), a dead letter
(``example.ingest.dead_letter``), a link from a poller to the workers (``example.ingest.link``). The
``id`` is derived from what the event says, never drawn at random: a message sent again after a
crash or a retry carries the same ``id``, so ``source`` + ``id`` lets a consumer drop the resend,
as the specification intends, while a changed article is a new event with a new ``id``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import quote, urlsplit

from ingest.kafka.producer import Headers
from ingest.times import rfc3339

SPEC_VERSION = "1.0"
TYPE_PREFIX = "example.ingest."

# Characters a URI may hold as they are (RFC 3986 reserved and unreserved, and "%" of an escape
# already there); anything else, spaces and non-ASCII letters included, is percent-encoded.
_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


@dataclass(frozen=True, slots=True)
class Event:
    """The attributes of one event; ``type`` without its prefix (``article``)."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    dataschema: str | None = None
    datacontenttype: str = "application/json"


def event_id(*parts: str | None) -> str:
    """A stable id from the parts that make an event what it is: 32 hex digits of their sha256."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8", "replace"))
    return digest.hexdigest()[:32]


def source_uri(location: str) -> str:
    """A URI-reference for where an event came from: a feed's URL, percent-encoded where it holds
    characters a URI may not; an archive's absolute path as a ``file:`` URI."""
    if location.startswith("/") and not urlsplit(location).scheme:
        return "file://" + quote(str(PurePosixPath(location)), safe=_URI_SAFE, errors="replace")
    return quote(location, safe=_URI_SAFE, errors="replace") or "urn:ingest:unknown"


def headers(event: Event) -> Headers:
    """The binary-mode headers of ``event``, the required attributes first."""
    found: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", source_uri(event.source).encode()),
        ("ce_type", (TYPE_PREFIX + event.type).encode()),
        ("ce_time", rfc3339(event.time, precise=True).encode()),
        ("content-type", event.datacontenttype.encode()),
    ]
    if event.subject:
        found.append(("ce_subject", event.subject.encode("utf-8", "replace")))
    if event.dataschema:
        found.append(("ce_dataschema", event.dataschema.encode()))
    return found
