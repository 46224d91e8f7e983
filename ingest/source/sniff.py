"""What kind of document a feed URL served, from its first bytes; the Content-Type is only a hint.

Servers often label feeds wrongly (``text/html`` for RSS, ``application/json`` for Atom, ``text/plain``
for anything), so the bytes decide: byte-order mark and whitespace, XML declaration, processing
instructions, comments and doctype are skipped, and the root element names the format. A JSON object
is a JSON Feed when it states a ``https://jsonfeed.org/version/...`` version. Only when the bytes say
nothing does the Content-Type choose. ``sniff`` never raises.
"""

from __future__ import annotations

import re
import zlib
from typing import Literal

FeedKind = Literal["rss", "atom", "rdf", "jsonfeed", "sitemap", "sitemapindex", "html", "unknown"]

GZIP_MAGIC = b"\x1f\x8b"
PREFIX_BYTES = 64 * 1024  # how far to look for the root element

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_ROOTS: dict[str, FeedKind] = {
    "rss": "rss",
    "feed": "atom",
    "rdf": "rdf",
    "urlset": "sitemap",
    "sitemapindex": "sitemapindex",
    "html": "html",
    "head": "html",
    "body": "html",
}
_HINTS: tuple[tuple[str, FeedKind], ...] = (
    ("application/feed+json", "jsonfeed"),
    ("application/rss+xml", "rss"),
    ("application/atom+xml", "atom"),
    ("application/rdf+xml", "rdf"),
)
_SPACE = " \t\r\n\f\v\x00\ufeff"
_NAME = re.compile(r"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)")
_DOCTYPE = re.compile(r"<!DOCTYPE\s+([^\s>\[]*)", re.IGNORECASE)
# "version": "https://jsonfeed.org/version/..." (slashes may be escaped as \/); http:// is seen in use.
JSONFEED_VERSION = re.compile(rb'"version"\s*:\s*"https?:(?:\\?/){2}jsonfeed\.org\\?/version\\?/')


def sniff(body: bytes, content_type: str | None) -> FeedKind:
    """The kind of document ``body`` is: from its bytes, else from ``content_type``."""
    try:
        kind = _from_bytes(body)
        return _from_content_type(content_type, body) if kind == "unknown" else kind
    except Exception:  # never raise: a document we cannot read is simply unknown
        return "unknown"


def _from_bytes(body: bytes) -> FeedKind:
    if body[:2] == GZIP_MAGIC:
        body = _gunzip_prefix(body)
    prefix, encoding = _decode_prefix(body[:PREFIX_BYTES])
    start = len(prefix) - len(prefix.lstrip(_SPACE))
    if prefix.startswith("{", start):
        return "jsonfeed" if JSONFEED_VERSION.search(_json_bytes(body, encoding)) else "unknown"
    return _root(prefix, start)


def _gunzip_prefix(body: bytes) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, PREFIX_BYTES)
    except zlib.error:
        return b""


def _decode_prefix(data: bytes) -> tuple[str, str]:
    """The prefix as text, and its encoding: from a byte-order mark or the zero bytes around ``<``."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace"), encoding
    head = data[:4].ljust(4, b"\x01")
    if head[:3] == b"\x00\x00\x00":
        encoding = "utf-32-be"
    elif head[1:] == b"\x00\x00\x00":
        encoding = "utf-32-le"
    elif head[0] == 0 and head[1] != 0:
        encoding = "utf-16-be"
    elif head[1] == 0 and head[0] != 0:
        encoding = "utf-16-le"
    else:
        return data.decode("latin-1"), "latin-1"  # ASCII-compatible: enough to read markup names
    return data.decode(encoding, "replace"), encoding


def _json_bytes(body: bytes, encoding: str) -> bytes:
    """The JSON document as ASCII-compatible bytes, to look for the JSON Feed version anywhere in it."""
    if encoding in ("latin-1", "utf-8"):
        return body
    return body.decode(encoding, "replace").encode("utf-8", "replace")


def _root(text: str, at: int) -> FeedKind:
    """The kind named by the root element, skipping the prolog of an XML or HTML document."""
    while True:
        at = len(text) - len(text[at:].lstrip(_SPACE))
        if text.startswith("<?", at):
            end = text.find("?>", at)
            at = end + 2
        elif text.startswith("<!--", at):
            end = text.find("-->", at + 4)
            at = end + 3
        elif text.startswith("<!", at):
            doctype = _DOCTYPE.match(text, at)
            if doctype is None:
                return "unknown"
            if doctype.group(1).lower() == "html":
                return "html"
            end = _doctype_end(text, doctype.end())
            at = end + 1
        elif text.startswith("<", at):
            name = _NAME.match(text, at)
            if name is None:
                return "unknown"
            local = name.group(1).rpartition(":")[2].lower()
            return _ROOTS.get(local, "unknown")
        else:
            return "unknown"
        if end < 0:
            return "unknown"  # the prolog runs past the prefix


def _doctype_end(text: str, at: int) -> int:
    """Index of the ``>`` closing a doctype, past its internal subset ``[...]`` if any (-1: not found)."""
    close = text.find(">", at)
    bracket = text.find("[", at)
    if 0 <= bracket < close:
        subset_end = text.find("]", bracket)
        return -1 if subset_end < 0 else text.find(">", subset_end)
    return close


def _from_content_type(content_type: str | None, body: bytes) -> FeedKind:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    for name, kind in _HINTS:
        if media == name:
            return kind
    if media in ("application/json", "text/json") and _is_json_object(body):
        return "jsonfeed"  # the JSON Feed parser says precisely why it is not one
    return "unknown"


def _is_json_object(body: bytes) -> bool:
    prefix, _ = _decode_prefix(body[:256])
    return prefix.lstrip(_SPACE).startswith("{")
