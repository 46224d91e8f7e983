"""The archive of every fetch: WARC/1.1 records in rotating gzip files, written off the pipeline.

    fetch ─► Archive.put (a bounded queue; full: counted, dropped) ─► writer thread ─► *.warc.gz

Each fetched article page (and, with ``archive.feeds``, each changed feed document) becomes three
records, each its own gzip member: ``request``, ``response`` (the body as served, its HTTP content
coding undone, with its payload digest) and ``metadata`` (the article id, the entry's link, the
feed). A file is written under ``.warc.gz.open`` and renamed once it is complete and fsynced
(rotated by size and by age), so a reader listing ``*.warc.gz`` sees only whole files; files left
open by a crash are renamed at the next start (a member cut short there is skipped by the reader).
The archive never blocks the pipeline and never costs it an article: a slow or full disk drops
captures (``ingest_archive_captures_total{result="dropped"|"failed"}``), never items.

``ingest backfill`` reads these files back: the response's ``WARC-Target-URI`` is the URL the body
was served from; ``Ingest-Entry-Link`` is the link the entry gave, from which the article id comes,
so a re-extraction (``--republish``) publishes under the live run's ids.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, Literal
from urllib.parse import urlsplit

from ingest.archive.records import ENTRY_LINK
from ingest.metrics import Metrics

log = logging.getLogger(__name__)

SUFFIX = ".warc.gz"
OPEN_SUFFIX = SUFFIX + ".open"
_IDLE_CHECK_S = 1.0  # how often an idle writer looks at the age of its file
# Bodies waiting for the disk, at most (besides ``archive.queue`` captures): pages of up to
# ``http.max_page_bytes`` each must not make a slow disk cost the service its memory.
MAX_QUEUED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Capture:
    """One fetch to archive."""

    kind: Literal["page", "feed"]
    url: str  # the URL the body was served from (after redirects)
    link: str  # the URL asked for: the entry's link, or the feed's URL
    status: int
    content_type: str | None
    body: bytes
    fetched_at: datetime
    article_id: str | None = None
    feed_url: str | None = None


def payload_digest(payload: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")


def _record(kind: str, fields: dict[str, str], block: bytes, record_id: str | None = None) -> bytes:
    head = [
        "WARC/1.1",
        f"WARC-Type: {kind}",
        f"WARC-Record-ID: {record_id or _record_id()}",
        *(f"{name}: {value}" for name, value in fields.items()),
        f"WARC-Block-Digest: {payload_digest(block)}",
        f"Content-Length: {len(block)}",
    ]
    data = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "replace") + block + b"\r\n\r\n"
    return gzip.compress(data, compresslevel=6, mtime=0)


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _line(value: str) -> str:
    """A header value on one line."""
    return " ".join(value.split())


def capture_records(capture: Capture, user_agent: str) -> bytes:
    """The request, response and metadata records of ``capture``, each its own gzip member."""
    when = capture.fetched_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    parts = urlsplit(capture.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: {_line(user_agent)}\r\n\r\n"
    try:
        reason = HTTPStatus(capture.status).phrase
    except ValueError:
        reason = "Unknown"
    head = [f"HTTP/1.1 {capture.status} {reason}"]
    if capture.content_type:
        head.append(f"Content-Type: {_line(capture.content_type)}")
    head.append(f"Content-Length: {len(capture.body)}")
    response = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "replace") + capture.body
    response_id = _record_id()
    common = {"WARC-Date": when, "WARC-Target-URI": _line(capture.url)}
    fields = [("ingest-kind", capture.kind), ("entry-link", capture.link)]
    if capture.article_id:
        fields.append(("article-id", capture.article_id))
    if capture.feed_url:
        fields.append(("feed", capture.feed_url))
    metadata = "".join(f"{name}: {_line(value)}\r\n" for name, value in fields)
    return b"".join(
        (
            _record(
                "request",
                {**common, "Content-Type": "application/http; msgtype=request"},
                request.encode("utf-8", "replace"),
            ),
            _record(
                "response",
                {
                    **common,
                    "Content-Type": "application/http; msgtype=response",
                    "WARC-Payload-Digest": payload_digest(capture.body),
                    ENTRY_LINK: _line(capture.link),
                },
                response,
                response_id,
            ),
            _record(
                "metadata",
                {**common, "WARC-Refers-To": response_id, "Content-Type": "application/warc-fields"},
                metadata.encode("utf-8", "replace"),
            ),
        )
    )


class Archive:
    """The writer of ``archive.dir``: ``put`` from the event loop, written by a thread of its own.
    ``start`` renames files a crash left open; ``close`` writes what is queued, then closes the
    file (fsynced, renamed)."""

    def __init__(
        self,
        folder: Path,
        metrics: Metrics,
        *,
        user_agent: str,
        max_file_bytes: int,
        max_file_age_s: float,
        queue_size: int,
    ) -> None:
        self._folder = folder
        self._metrics = metrics
        self._user_agent = user_agent
        self._max_bytes = max_file_bytes
        self._max_age_s = max_file_age_s
        self._queue: queue.Queue[Capture | None] = queue.Queue(queue_size)
        self._lock = threading.Lock()
        self._queued_bytes = 0  # of the bodies waiting in the queue
        self._thread = threading.Thread(target=self._write_all, name="archive", daemon=True)
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self._size = 0
        self._sequence = 0
        self._failing = False

    def start(self) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        for left in sorted(self._folder.glob("*" + OPEN_SUFFIX)):
            done = left.with_name(left.name.removesuffix(".open"))
            left.rename(done)
            log.warning("archive file %s was left open (a crash?): kept as %s", left.name, done.name)
        self._thread.start()

    def put(self, capture: Capture) -> bool:
        """Queue ``capture`` for writing; False (counted) when the queue is full, by count or by
        the bytes it holds (``MAX_QUEUED_BYTES``)."""
        size = len(capture.body)
        with self._lock:
            if self._queued_bytes + size > MAX_QUEUED_BYTES and self._queued_bytes:
                self._metrics.archive_captures.labels("dropped").inc()
                return False
            try:
                self._queue.put_nowait(capture)
            except queue.Full:
                self._metrics.archive_captures.labels("dropped").inc()
                return False
            self._queued_bytes += size
        return True

    def close(self) -> None:
        """Write what is queued and close the file. Blocking: call it from a thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _write_all(self) -> None:
        while True:
            try:
                capture = self._queue.get(timeout=_IDLE_CHECK_S)
            except queue.Empty:
                if self._file is not None and time.monotonic() - self._opened_at >= self._max_age_s:
                    self._finish()
                continue
            if capture is None:
                self._finish()
                return
            with self._lock:
                self._queued_bytes -= len(capture.body)
            self._write(capture)

    def _write(self, capture: Capture) -> None:
        data = capture_records(capture, self._user_agent)
        try:
            if self._file is not None and (
                self._size + len(data) > self._max_bytes
                or time.monotonic() - self._opened_at >= self._max_age_s
            ):
                self._finish()
            if self._file is None:
                self._open()
            assert self._file is not None
            self._file.write(data)
            self._file.flush()
        except OSError as exc:
            self._metrics.archive_captures.labels("failed").inc()
            if not self._failing:
                log.error(
                    "archive: cannot write to %s (%s); captures are dropped until it can", self._folder, exc
                )
            self._failing = True
            self._abandon()
            return
        if self._failing:
            log.info("archive: writing to %s again", self._folder)
            self._failing = False
        self._size += len(data)
        self._metrics.archive_captures.labels("written").inc()
        self._metrics.archive_bytes.inc(len(data))

    def _open(self) -> None:
        self._sequence += 1
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        name = f"ingest-{stamp}-{os.getpid()}-{self._sequence:05d}{OPEN_SUFFIX}"
        self._path = self._folder / name
        self._file = self._path.open("xb")
        self._opened_at = time.monotonic()
        self._size = 0

    def _finish(self) -> None:
        """fsync, close and rename the file: from now on it is whole."""
        if self._file is None or self._path is None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._path.rename(self._path.with_name(self._path.name.removesuffix(".open")))
            directory = os.open(self._folder, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self._metrics.archive_files.inc()
        except OSError as exc:
            log.error("archive: cannot close %s (%s)", self._path, exc)
        finally:
            self._file = None
            self._path = None

    def _abandon(self) -> None:
        """After a failed write: the file closed as it is (its last member may be cut short, which
        a reader skips), a new one opened next time."""
        file, path = self._file, self._path
        self._file = self._path = None
        with contextlib.suppress(OSError):
            if file is not None:
                file.close()
            if path is not None:
                path.rename(path.with_name(path.name.removesuffix(".open")))
