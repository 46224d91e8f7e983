"""Web archives: the HTML pages of WARC (1.0, 1.1) and ARC files, read forward, record by record.

    file ─► gzip members, one at a time (or plain bytes) ─► records ─► Page (an HTML response)
                                                                     └► Skipped (why not)

Written here rather than taken from warcio or FastWARC (both measured, ``bench/backfill.py``): both
stop at the first corrupt gzip member, where an archive of months of news must skip to the next
member and go on; and resuming a file needs the byte offset at which each record can be read again,
which a member-by-member reader knows. Memory is bounded whatever the file: bytes are decompressed
in chunks, a record's block is held only when it is an HTML response under ``max_bytes``, every
other block is read past.

A record's ``offset`` is where reading can start again to reach it, its ``end`` where reading can
start again after it: in a gzip-per-record file (the norm, and Common Crawl's), the member that holds
it and the next one; in a file of several records per member, that member's start for both, so a
resume reads the member's first records again (they are seen keys by then: nothing is published
twice). Revisit records are resolved by payload digest to an earlier response of the same file, when
the file can be opened again (``reopen``) and read at that offset; otherwise they are skipped as unresolved.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from ingest.text import valid_text

_CHUNK = 1 << 16  # read from the file at a time
_OUT_CHUNK = 1 << 20  # decompressed at a time: what a gzip bomb can make us hold
_MAX_LINE = 1 << 16  # a header line, or an ARC record's first line
_MAX_HEADERS = 1 << 18  # all the header lines of one record, or of its HTTP response
_GZIP_MAGIC = b"\x1f\x8b\x08"
_MAX_REVISIT_INDEX = 1_000_000  # payload digests remembered per file, to resolve revisits
# HTML, as the live fetch accepts it (ingest.stages.fetch.HTML_TYPES): an unstated type too.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", ""})
# A WARC extension field of the response records this service writes (``ingest.archive.writer``):
# the entry's link, when the page was served from another URL (a redirect).
ENTRY_LINK = "Ingest-Entry-Link"

# Why a record is not a page. Every reason is a metric label value (ingest_backfill_records_total).
SKIP_REASONS = (
    "not_response",  # warcinfo, request, metadata, resource, conversion records
    "http_status",  # a response other than 200
    "not_html",
    "truncated",  # WARC-Truncated, or the file ends inside the record
    "too_large",
    "revisit_unresolved",
    "malformed",  # a header, an HTTP response or a content encoding that cannot be read
    "corrupt_gzip",  # a gzip member that does not decompress: reading goes on at the next one
    "out_of_range",  # outside --since / --until
    "other_host",  # not matched by --host
)


@dataclass(frozen=True, slots=True)
class Page:
    """An HTML page (status 200) as the archive holds it, its HTTP content encoding undone."""

    url: str
    date: datetime
    body: bytes
    content_type: str | None  # the response's Content-Type header, charset included
    offset: int
    end: int
    record_id: str | None = None
    link: str | None = None  # the link a live fetch was asked for (``ENTRY_LINK``), when recorded


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that is not a page, or bytes that are not a record."""

    reason: str
    offset: int
    end: int
    url: str | None = None
    detail: str = ""


Record = Page | Skipped
# Told the target URL and date of a response before its block is read: a skip reason, or None.
Wanted = Callable[[str, datetime], str | None]


class Readable(Protocol):
    """What the reader needs of a file: ``read``, and ``seek`` where ``seekable``."""

    def read(self, n: int = -1, /) -> bytes: ...

    def seekable(self) -> bool: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


class _Corrupt(Exception):
    """A gzip member that cannot be decompressed, or a file that ends inside one."""


class _Bytes:
    """The uncompressed bytes of an archive, read forward, and the file position at which reading
    can start again (``resume_point``)."""

    def __init__(self, raw: Readable, start: int, gzipped: bool) -> None:
        self._raw = raw
        self._gzipped = gzipped
        self._in = b""  # raw bytes read, not yet decompressed
        self._pos = start  # file position of self._in[0]; between members, the next one's start
        self._z: zlib._Decompress | None = None
        self._member = start  # file position of the member being decompressed
        self._out = bytearray()
        self._at = 0  # read position in self._out
        self._marks: list[tuple[int, int]] = []  # (index in _out where a member's bytes begin, its start)
        self._eof = False
        self._broken: _Corrupt | None = None  # raised again by every read until ``resync``

    def _more_input(self) -> bool:
        if self._eof:
            return False
        chunk = self._raw.read(_CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._in = self._in + chunk if self._in else chunk
        return True

    def _fill(self, *, member_only: bool = False) -> bool:
        """Add decoded bytes to the buffer; False at the end of the data (``member_only``: at the
        end of the current member)."""
        if self._broken is not None:
            raise self._broken
        if not self._gzipped:
            if not self._in and not self._more_input():
                return False
            self._compact()
            self._out += self._in
            self._pos += len(self._in)
            self._in = b""
            return True
        while True:
            if self._z is None:
                if member_only:
                    return False
                while len(self._in) < 3 and self._more_input():
                    pass
                if not self._in:
                    return False
                self._member = self._pos
                if not self._in.startswith(_GZIP_MAGIC):
                    self._broken = _Corrupt("not a gzip member")
                    raise self._broken
                self._z = zlib.decompressobj(31)
                self._compact()
                self._marks.append((len(self._out), self._member))
            elif not self._in and not self._more_input():
                self._broken = _Corrupt("the file ends inside a gzip member")
                raise self._broken
            try:
                data = self._z.decompress(self._in, _OUT_CHUNK)
            except zlib.error as exc:
                self._broken = _Corrupt(str(exc))
                raise self._broken from exc
            if self._z.eof:
                rest = self._z.unused_data
                self._z = None
            else:
                rest = self._z.unconsumed_tail
            self._pos += len(self._in) - len(rest)
            self._in = rest
            if data:
                self._compact()
                self._out += data
                return True

    def _compact(self) -> None:
        if self._at > _CHUNK and self._at * 2 > len(self._out):
            at = self._at
            del self._out[:at]
            self._at = 0
            kept = [(i - at, m) for i, m in self._marks if i > at]
            older = [m for i, m in self._marks if i <= at]
            self._marks = ([(0, older[-1])] if older else []) + kept

    def resync(self) -> None:
        """After a corrupt member: go on at the next gzip member's start (a plain file: nothing
        to do here, the record layer looks for the next header)."""
        self._out.clear()
        self._at = 0
        self._marks.clear()
        self._z = None
        self._broken = None
        if not self._gzipped:
            return
        if self._raw.seekable():  # the next member may start before where zlib choked
            self._raw.seek(self._member + 1)
            self._pos, self._in, self._eof = self._member + 1, b"", False
        skip_first = self._pos == self._member
        while True:
            found = self._in.find(_GZIP_MAGIC, 1 if skip_first else 0)
            if found >= 0:
                self._pos += found
                self._in = self._in[found:]
                return
            keep = self._in[-2:]
            self._pos += len(self._in) - len(keep)
            self._in = keep
            skip_first = False
            if not self._more_input():
                self._pos += len(self._in)
                self._in = b""
                return

    def resume_point(self) -> int:
        """Where reading can start again and reach the next unread byte: its exact position in a
        plain file; the start of its gzip member, or of the next member once this one is read."""
        if not self._gzipped:
            return self._pos - (len(self._out) - self._at)
        if self._at == len(self._out):
            if self._z is not None:
                try:  # the member's trailer, if that is all it has left
                    self._fill(member_only=True)
                except _Corrupt:
                    return self._member
            if self._at == len(self._out) and self._z is None:
                return self._pos
        start = self._member
        for index, member in self._marks:
            if index > self._at:
                break
            start = member
        return start

    def peek(self, n: int) -> bytes:
        while len(self._out) - self._at < n and self._fill():
            pass
        return bytes(self._out[self._at : self._at + n])

    def read(self, n: int) -> bytes:
        data = self.peek(n)
        self._at += len(data)
        return data

    def skip(self, n: int) -> int:
        """Read past ``n`` bytes without keeping them; the number read past (fewer at the end)."""
        done = 0
        while done < n:
            if self._at == len(self._out) and not self._fill():
                break
            step = min(n - done, len(self._out) - self._at)
            self._at += step
            done += step
        return done

    def readline(self, limit: int = _MAX_LINE) -> bytes:
        """A line with its newline; at most ``limit`` bytes (a longer line comes in pieces)."""
        start = self._at
        while True:
            found = self._out.find(b"\n", start, self._at + limit)
            if found >= 0:
                line = bytes(self._out[self._at : found + 1])
                self._at = found + 1
                return line
            start = len(self._out)
            if len(self._out) - self._at >= limit or not self._fill():
                line = bytes(self._out[self._at : self._at + limit])
                self._at += len(line)
                return line

    def block_ends(self) -> bool:
        """Read the blank lines that must follow a record's block; False when other bytes come
        first (a Content-Length that lies, or a damaged member decoded into garbage). The end of
        the file, or a corrupt member after this one, counts as an end: that member is not this
        record's, and is raised by the next read."""
        try:
            head = self.peek(4)
        except _Corrupt:
            return True
        if not head or head[:1] == b"\n" or head[:2] == b"\r\n":
            self.skip_newlines()
            return True
        return False

    def skip_newlines(self) -> None:
        """Read past the blank lines after a record. A corrupt member that follows is not this
        record's: it is raised by the next read."""
        with contextlib.suppress(_Corrupt):
            while (head := self.peek(1)) in (b"\r", b"\n"):
                self._at += len(head)


def records(
    raw: Readable,
    *,
    max_bytes: int,
    start: int = 0,
    gzipped: bool | None = None,
    wanted: Wanted | None = None,
    reopen: Callable[[], Readable] | None = None,
) -> Generator[Record, None, None]:
    """Every record of the archive ``raw``, which is at file position ``start`` (a record's
    ``offset`` or ``end``; a stream cannot be sought, so the caller puts it there): a ``Page`` or a
    ``Skipped``. ``gzipped``: None to tell by the first bytes. Never raises for what the file
    holds; an ``OSError`` of ``raw`` goes up."""
    if gzipped is None:
        if raw.seekable():
            here = raw.tell()
            gzipped = raw.read(3) == _GZIP_MAGIC
            raw.seek(here)
        else:
            head = raw.read(3)
            gzipped = head == _GZIP_MAGIC
            raw = _Prefixed(head, raw)
    stream = _Bytes(raw, start, gzipped)
    reader = _Reader(stream, max_bytes, wanted, reopen, gzipped)
    yield from reader


class _Prefixed:
    """A non-seekable stream with bytes already read put back in front."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head + (self._rest.read(n - len(head)) if n > len(head) else b"")
        return self._rest.read(n)

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("not seekable")

    def tell(self) -> int:
        raise OSError("not seekable")


@dataclass(frozen=True, slots=True)
class _Header:
    fields: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.fields.get(name.lower())


class _Reader:
    def __init__(
        self,
        stream: _Bytes,
        max_bytes: int,
        wanted: Wanted | None,
        reopen: Callable[[], Readable] | None,
        gzipped: bool,
    ) -> None:
        self._s = stream
        self._max = max_bytes
        self._wanted = wanted
        self._reopen = reopen
        self._gzipped = gzipped
        self._digests: dict[str, int] = {}  # payload digest -> offset of its HTML response

    def __iter__(self) -> Iterator[Record]:
        s = self._s
        lost: int | None = None  # offset where unreadable bytes began, until the next record
        while True:
            try:
                s.skip_newlines()
                offset = s.resume_point()
                line = s.readline()
                if not line:
                    if lost is not None:
                        yield Skipped("malformed", lost, offset, detail="no record header")
                    return
                kind = _kind(line)
                if kind is None:
                    lost = offset if lost is None else lost
                    continue
                if lost is not None:
                    yield Skipped("malformed", lost, offset, detail="bytes between records")
                    lost = None
                record = self._warc(offset) if kind == "warc" else self._arc(line, offset)
            except _Corrupt as exc:
                at = s.resume_point() if lost is None else lost
                s.resync()
                lost = None
                yield Skipped("corrupt_gzip", at, s.resume_point(), detail=str(exc))
                continue
            yield record

    # -- WARC
    def _warc(self, offset: int) -> Record:
        s = self._s
        header = self._headers()
        if header is None:
            return Skipped("malformed", offset, s.resume_point(), detail="header too long")
        try:
            length = int(header.get("content-length") or "")
        except ValueError:
            return Skipped("malformed", offset, s.resume_point(), detail="no Content-Length")
        if length < 0:
            return Skipped("malformed", offset, s.resume_point(), detail="negative Content-Length")
        kind = (header.get("warc-type") or "").lower()
        url = (header.get("warc-target-uri") or "").strip().strip("<>").strip() or None

        def skipped(reason: str, detail: str = "") -> Skipped:
            return self._skip(length, offset, url, reason, detail)

        if kind not in ("response", "revisit"):
            return skipped("not_response", kind)
        date = _warc_date(header.get("warc-date"))
        if url is None or date is None:
            return skipped("malformed", "no WARC-Target-URI or WARC-Date")
        truncated = header.get("warc-truncated")
        read = self._block(length, offset, url, date, f"WARC-Truncated: {truncated}" if truncated else None)
        if isinstance(read, Skipped):
            return read
        block, end = read
        record_id = header.get("warc-record-id")
        if kind == "revisit":
            return self._revisit(header, url, date, offset, end)
        found = self._page(block, url, date, offset, end, record_id)
        if isinstance(found, Page) and (link := header.get(ENTRY_LINK.lower())):
            found = replace(found, link=link)
        digest = header.get("warc-payload-digest")
        if isinstance(found, Page) and digest and len(self._digests) < _MAX_REVISIT_INDEX:
            self._digests.setdefault(digest.strip(), offset)
        return found

    def _skip(self, length: int, offset: int, url: str | None, reason: str, detail: str) -> Skipped:
        """Read past a record's block: it is not taken, for ``reason``."""
        if self._s.skip(length) < length:
            reason, detail = "truncated", "the file ends inside the record"
        self._s.skip_newlines()
        return Skipped(reason, offset, self._s.resume_point(), url, detail)

    def _block(
        self, length: int, offset: int, url: str, date: datetime, truncated: str | None = None
    ) -> tuple[bytes, int] | Skipped:
        """A response's block, read whole, and where reading resumes after it; or why it is not
        taken: not wanted (``--since``, ``--host``...), ``truncated`` (WARC-Truncated), too large,
        or cut short."""
        if self._wanted is not None and (why := self._wanted(url, date)):
            return self._skip(length, offset, url, why, "")
        if truncated:
            return self._skip(length, offset, url, "truncated", truncated)
        if length > self._max + _MAX_HEADERS:
            return self._skip(length, offset, url, "too_large", f"{length} bytes")
        block = self._s.read(length)
        ends = self._s.block_ends()
        end = self._s.resume_point()
        if len(block) < length:
            return Skipped("truncated", offset, end, url, "the file ends inside the record")
        if not ends:
            return Skipped("malformed", offset, end, url, "no blank line or newline after the record")
        return block, end

    def _headers(self) -> _Header | None:
        fields: dict[str, str] = {}
        size = 0
        last = ""
        while True:
            line = self._s.readline()
            size += len(line)
            if size > _MAX_HEADERS:
                return None
            if line in (b"\r\n", b"\n", b""):
                return _Header(fields)
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last:
                fields[last] += " " + text.strip()
                continue
            name, sep, value = text.partition(":")
            if sep:
                last = name.strip().lower()
                fields.setdefault(last, value.strip())

    def _revisit(self, header: _Header, url: str, date: datetime, offset: int, end: int) -> Record:
        digest = (header.get("warc-payload-digest") or "").strip()
        original = self._digests.get(digest)
        if original is None or self._reopen is None:
            why = "no earlier response with its payload digest" if original is None else "not seekable"
            return Skipped("revisit_unresolved", offset, end, url, why)
        raw = self._reopen()
        try:
            raw.seek(original)
            again = _Bytes(raw, original, self._gzipped)
            for record in _Reader(again, self._max, None, None, self._gzipped):
                if isinstance(record, Page):
                    return replace(record, url=url, date=date, offset=offset, end=end)
                break
        finally:
            close = getattr(raw, "close", None)
            if close is not None:
                close()
        return Skipped("revisit_unresolved", offset, end, url, "the earlier response cannot be read")

    # -- ARC (version 1 and 2: URL IP date type ... length)
    def _arc(self, line: bytes, offset: int) -> Record:
        fields = line.decode("utf-8", "replace").split()
        length = int(fields[-1])
        url, stamp, kind = fields[0], fields[2], fields[3]

        def skipped(reason: str, detail: str = "") -> Skipped:
            return self._skip(length, offset, url, reason, detail)

        if url.startswith("filedesc:") or not url.lower().startswith(("http:", "https:")):
            return skipped("not_response", url.split(":", 1)[0])
        try:
            date = datetime.strptime(stamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return skipped("malformed", f"ARC date {stamp!r}")
        read = self._block(length, offset, url, date)
        if isinstance(read, Skipped):
            return read
        block, end = read
        if not block.startswith(b"HTTP/"):  # ARC v1 without the HTTP head: the stated type
            return self._typed(block, kind, url, date, offset, end, None)
        return self._page(block, url, date, offset, end, None)

    # -- the HTTP response inside a record
    def _page(
        self, block: bytes, url: str, date: datetime, offset: int, end: int, record_id: str | None
    ) -> Record:
        head_end = block.find(b"\r\n\r\n", 0, _MAX_HEADERS)
        sep = 4
        bare = block.find(b"\n\n", 0, head_end if head_end >= 0 else _MAX_HEADERS)
        if bare >= 0:  # a head written with bare newlines
            head_end, sep = bare, 2
        if head_end < 0 or head_end > _MAX_HEADERS:
            return Skipped("malformed", offset, end, url, "no HTTP header")
        lines = block[:head_end].decode("latin-1").splitlines()
        status_line = lines[0].split(None, 2) if lines else []
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/") or not status_line[1].isdigit():
            return Skipped("malformed", offset, end, url, "no HTTP status line")
        status = int(status_line[1])
        if status != 200:
            return Skipped("http_status", offset, end, url, f"HTTP {status}")
        headers: dict[str, str] = {}
        for text in lines[1:]:
            name, colon, value = text.partition(":")
            if colon:
                headers.setdefault(name.strip().lower(), value.strip())
        body = block[head_end + sep :]
        try:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                body = _dechunk(body)
            body = _decode_content(body, headers.get("content-encoding", ""), self._max)
        except _TooLarge:
            return Skipped("too_large", offset, end, url, "over the limit once decoded")
        except ValueError as exc:
            return Skipped("malformed", offset, end, url, f"content encoding: {exc}")
        return self._typed(body, headers.get("content-type"), url, date, offset, end, record_id)

    def _typed(
        self,
        body: bytes,
        content_type: str | None,
        url: str,
        date: datetime,
        offset: int,
        end: int,
        record_id: str | None,
    ) -> Record:
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media not in HTML_TYPES:
            return Skipped("not_html", offset, end, url, media)
        if len(body) > self._max:
            return Skipped("too_large", offset, end, url, f"{len(body)} bytes")
        return Page(valid_text(url), date, body, content_type, offset, end, record_id)


def _kind(line: bytes) -> str | None:
    """What a record's first line starts: a WARC record, an ARC record, or neither."""
    if line.startswith(b"WARC/") and line.rstrip().count(b" ") == 0:
        return "warc"
    fields = line.split()
    if len(fields) in (5, 10) and fields[-1].isdigit() and fields[2].isdigit() and len(fields[2]) >= 12:
        return "arc"
    return None


def _warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _TooLarge(Exception):
    pass


def _dechunk(body: bytes) -> bytes:
    """A body with HTTP/1.1 chunked transfer coding undone; ValueError if it is not chunked."""
    out: list[bytes] = []
    at = 0
    while True:
        line_end = body.find(b"\n", at)
        if line_end < 0:
            raise ValueError("chunk size missing")
        size_text = body[at:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError("bad chunk size") from None
        if size == 0:
            return b"".join(out)
        start = line_end + 1
        out.append(body[start : start + size])
        at = start + size
        if body[at : at + 2] == b"\r\n":
            at += 2
        elif body[at : at + 1] == b"\n":
            at += 1


def _decode_content(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """``body`` with its HTTP content encoding undone, at most ``max_bytes``."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 47 if encoding != "deflate" else (15 if body[:1] == b"x" else -15)
        z = zlib.decompressobj(wbits)
        try:
            out = z.decompress(body, max_bytes + 1)
        except zlib.error as exc:
            raise ValueError(str(exc)) from exc
    elif encoding == "br":
        try:
            import brotli
        except ImportError:
            raise ValueError("br: no brotli decoder installed") from None
        try:
            out = brotli.decompress(body)
        except brotli.error as exc:
            raise ValueError(str(exc)) from exc
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    if len(out) > max_bytes:
        raise _TooLarge
    return bytes(out)
