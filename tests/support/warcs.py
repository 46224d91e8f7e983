"""WARC and ARC files made byte by byte, as the format's specification writes them: for the
archive reader's tests and the backfill's (independent of ``ingest.archive``'s own writer)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

DATE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def digest(payload: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode()


def http_response(
    body: bytes,
    content_type: str | None = "text/html; charset=utf-8",
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Status'}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def record(kind: str, block: bytes, headers: dict[str, str] | None = None, version: str = "1.1") -> bytes:
    fields = {
        "WARC-Type": kind,
        "WARC-Record-ID": f"<urn:uuid:{uuid.UUID(bytes=hashlib.sha1(kind.encode() + block).digest()[:16])}>",
        "WARC-Date": DATE.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **(headers or {}),
        "Content-Length": str(len(block)),
    }
    head = f"WARC/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


def response(
    url: str,
    body: bytes,
    *,
    date: datetime = DATE,
    content_type: str | None = "text/html; charset=utf-8",
    status: int = 200,
    http_headers: Iterable[tuple[str, str]] = (),
    headers: dict[str, str] | None = None,
) -> bytes:
    block = http_response(body, content_type, status, http_headers)
    return record(
        "response",
        block,
        {
            "WARC-Target-URI": url,
            "WARC-Date": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Content-Type": "application/http; msgtype=response",
            "WARC-Payload-Digest": digest(body),
            **(headers or {}),
        },
    )


def request(url: str) -> bytes:
    block = f"GET / HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n\r\n".encode()
    return record(
        "request", block, {"WARC-Target-URI": url, "Content-Type": "application/http; msgtype=request"}
    )


def warcinfo() -> bytes:
    return record(
        "warcinfo",
        b"software: tests\r\nformat: WARC File Format 1.1\r\n",
        {"Content-Type": "application/warc-fields"},
    )


def revisit(url: str, body: bytes, *, date: datetime = DATE) -> bytes:
    """A revisit of ``body`` (identical payload digest), its HTTP head only."""
    head = http_response(b"")
    return record(
        "revisit",
        head,
        {
            "WARC-Target-URI": url,
            "WARC-Date": date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
            "WARC-Payload-Digest": digest(body),
        },
    )


def gz(*records: bytes) -> bytes:
    """One gzip member per record, as archives are written."""
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def arc(records: Iterable[tuple[str, bytes]], when: datetime = DATE) -> bytes:
    """An ARC (version 1) file: its file description, then one record per (url, HTTP response),
    each its own gzip member."""
    stamp = when.strftime("%Y%m%d%H%M%S")
    desc = b"1 0 test\nURL IP-address Archive-date Content-type Archive-length\n"
    out = [
        gzip.compress(f"filedesc://test.arc 0.0.0.0 {stamp} text/plain {len(desc)}\n".encode() + desc + b"\n")
    ]
    for url, block in records:
        out.append(
            gzip.compress(f"{url} 127.0.0.1 {stamp} text/html {len(block)}\n".encode() + block + b"\n")
        )
    return b"".join(out)
