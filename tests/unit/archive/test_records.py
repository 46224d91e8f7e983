"""The archive reader on files made byte by byte: every kind of record, resuming at an offset, and
damaged files (corrupt members, junk, cut-off ends, random bytes) that must never stop the reading."""

from __future__ import annotations

import gzip
import io
import itertools
import zlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.archive.records import SKIP_REASONS, Page, Record, Skipped, records
from tests.support import warcs

HTML = b"<html><body><p>Hello from the archive.</p></body></html>"
LIMIT = 1_000_000


def read(data: bytes, start: int = 0, **options: object) -> list[Record]:
    raw = io.BytesIO(data)
    raw.seek(start)
    return list(records(raw, max_bytes=LIMIT, start=start, **options))  # type: ignore[arg-type]


def pages(found: list[Record]) -> list[str]:
    return [r.url for r in found if isinstance(r, Page)]


def reasons(found: list[Record]) -> list[str]:
    return [r.reason for r in found if isinstance(r, Skipped)]


def test_a_response_is_a_page_with_its_date_type_and_body() -> None:
    when = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    found = read(warcs.gz(warcs.response("https://a.example/1", HTML, date=when)))
    assert len(found) == 1
    page = found[0]
    assert isinstance(page, Page)
    assert (page.url, page.date, page.body) == ("https://a.example/1", when, HTML)
    assert page.content_type == "text/html; charset=utf-8"
    assert page.offset == 0


def test_every_other_record_is_skipped_by_reason() -> None:
    data = warcs.gz(
        warcs.warcinfo(),
        warcs.request("https://a.example/1"),
        warcs.response("https://a.example/1", HTML),
        warcs.response("https://a.example/doc.pdf", b"%PDF-1.4", content_type="application/pdf"),
        warcs.response("https://a.example/gone", HTML, status=404),
        warcs.response("https://a.example/cut", HTML, headers={"WARC-Truncated": "length"}),
        warcs.response("https://a.example/big", HTML * 100),
    )
    found = list(records(io.BytesIO(data), max_bytes=len(HTML) * 50))
    assert pages(found) == ["https://a.example/1"]
    assert reasons(found) == [
        "not_response",
        "not_response",
        "not_html",
        "http_status",
        "truncated",
        "too_large",
    ]
    assert set(reasons(found)) <= set(SKIP_REASONS)


def test_offsets_chain_and_reading_again_from_one_gives_the_same_records() -> None:
    urls = [f"https://a.example/{n}" for n in range(6)]
    data = warcs.gz(*(warcs.response(u, HTML + u.encode()) for u in urls))
    found = read(data)
    assert pages(found) == urls
    assert found[0].offset == 0
    assert found[-1].end == len(data)
    for before, after in itertools.pairwise(found):
        assert before.end == after.offset
    again = read(data[found[3].offset :])  # a resumed reader starts at a member
    from_offset = read(data, found[3].offset)
    assert pages(from_offset) == urls[3:] == pages(again)
    assert [r.offset for r in from_offset] == [r.offset for r in found[3:]]


def test_a_corrupt_member_is_skipped_and_the_next_ones_are_read() -> None:
    good = [warcs.gz(warcs.response(f"https://a.example/{n}", HTML * 20)) for n in range(3)]
    broken = bytearray(warcs.gz(warcs.response("https://a.example/broken", HTML * 20)))
    broken[40:60] = b"\xff" * 20
    data = good[0] + bytes(broken) + good[1] + good[2]
    found = read(data)
    assert pages(found) == ["https://a.example/0", "https://a.example/1", "https://a.example/2"]
    assert reasons(found) == ["corrupt_gzip"]
    skipped = next(r for r in found if isinstance(r, Skipped))
    assert (skipped.offset, skipped.end) == (len(good[0]), len(good[0]) + len(broken))


def test_a_member_cut_short_and_junk_between_members_are_skipped() -> None:
    first = warcs.gz(warcs.response("https://a.example/1", HTML))
    cut = warcs.gz(warcs.response("https://a.example/cut", HTML * 20))[:-30]
    last = warcs.gz(warcs.response("https://a.example/2", HTML))
    found = read(first + cut + b"junk between members\n" + last)
    assert pages(found) == ["https://a.example/1", "https://a.example/2"]
    assert "corrupt_gzip" in reasons(found)


def test_a_file_that_ends_inside_a_member_ends_the_reading_cleanly() -> None:
    data = warcs.gz(
        warcs.response("https://a.example/1", HTML), warcs.response("https://a.example/2", HTML * 20)
    )
    found = read(data[:-40])
    assert pages(found) == ["https://a.example/1"]
    assert reasons(found) == ["corrupt_gzip"]


def test_several_records_in_one_member_resume_at_the_member() -> None:
    one = gzip.compress(
        warcs.response("https://a.example/1", HTML) + warcs.response("https://a.example/2", HTML)
    )
    found = read(one)
    assert pages(found) == ["https://a.example/1", "https://a.example/2"]
    assert [(r.offset, r.end) for r in found] == [(0, 0), (0, len(one))]


def test_a_plain_warc_with_junk_between_records() -> None:
    data = (
        warcs.response("https://a.example/1", HTML)
        + b"garbage line\r\n"
        + warcs.response("https://a.example/2", HTML)
    )
    found = read(data)
    assert pages(found) == ["https://a.example/1", "https://a.example/2"]
    assert reasons(found) == ["malformed"]
    assert found[-1].end == len(data)
    resumed = read(data, found[2].offset)
    assert pages(resumed) == ["https://a.example/2"]


def test_a_revisit_is_resolved_to_the_earlier_response_when_the_file_can_be_read_again() -> None:
    data = warcs.gz(
        warcs.response("https://a.example/1", HTML),
        warcs.revisit("https://a.example/1?again", HTML, date=datetime(2024, 4, 1, tzinfo=UTC)),
        warcs.revisit("https://a.example/never", b"a payload never archived"),
    )
    found = list(records(io.BytesIO(data), max_bytes=LIMIT, reopen=lambda: io.BytesIO(data)))
    assert pages(found) == ["https://a.example/1", "https://a.example/1?again"]
    again = found[1]
    assert isinstance(again, Page)
    assert again.body == HTML
    assert again.date == datetime(2024, 4, 1, tzinfo=UTC)
    assert reasons(found) == ["revisit_unresolved"]
    assert reasons(read(data)) == ["revisit_unresolved", "revisit_unresolved"]  # no way to read back


def test_http_transfer_and_content_encodings_are_undone() -> None:
    parts = [b"<html><body><p>Chunked ", b"and gzipped.</p>"]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    squeezed = gzip.compress(b"<html><body><p>Gzipped page.</p></body></html>")
    deflated = zlib.compress(b"<html><body><p>Deflated page.</p></body></html>")
    data = warcs.gz(
        warcs.response("https://a.example/c", chunked, http_headers=[("Transfer-Encoding", "chunked")]),
        warcs.response("https://a.example/g", squeezed, http_headers=[("Content-Encoding", "gzip")]),
        warcs.response("https://a.example/d", deflated, http_headers=[("Content-Encoding", "deflate")]),
        warcs.response("https://a.example/x", b"xx", http_headers=[("Content-Encoding", "gzip")]),
    )
    found = read(data)
    bodies = [r.body for r in found if isinstance(r, Page)]
    assert bodies == [
        b"<html><body><p>Chunked and gzipped.</p>",
        b"<html><body><p>Gzipped page.</p></body></html>",
        b"<html><body><p>Deflated page.</p></body></html>",
    ]
    assert reasons(found) == ["malformed"]


def test_a_gzip_bomb_in_the_content_encoding_is_too_large_not_held() -> None:
    bomb = gzip.compress(b"<p>" + b"a" * 5_000_000)
    found = list(
        records(
            io.BytesIO(
                warcs.gz(
                    warcs.response("https://a.example/b", bomb, http_headers=[("Content-Encoding", "gzip")])
                )
            ),
            max_bytes=100_000,
        )
    )
    assert reasons(found) == ["too_large"]


def test_an_unstated_type_is_taken_as_html_like_a_live_fetch() -> None:
    assert pages(read(warcs.gz(warcs.response("https://a.example/1", HTML, content_type=None)))) == [
        "https://a.example/1"
    ]


def test_wanted_skips_by_its_reason_before_the_block_is_read() -> None:
    told: list[tuple[str, datetime]] = []

    def wanted(url: str, when: datetime) -> str | None:
        told.append((url, when))
        return "other_host" if "b.example" in url else None

    data = warcs.gz(warcs.response("https://a.example/1", HTML), warcs.response("https://b.example/1", HTML))
    found = list(records(io.BytesIO(data), max_bytes=LIMIT, wanted=wanted))
    assert pages(found) == ["https://a.example/1"]
    assert reasons(found) == ["other_host"]
    assert [u for u, _ in told] == ["https://a.example/1", "https://b.example/1"]


def test_arc_files_are_read_too() -> None:
    data = warcs.arc(
        [
            ("http://a.example/1", warcs.http_response(HTML)),
            ("http://a.example/2", warcs.http_response(b"", status=302)),
        ]
    )
    found = read(data)
    assert pages(found) == ["http://a.example/1"]
    assert reasons(found) == ["not_response", "http_status"]
    page = found[1]
    assert isinstance(page, Page)
    assert page.date == warcs.DATE


def test_a_non_seekable_stream_is_read_like_a_file() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return self._data.read(min(n, 7) if n > 0 else 7)  # a slow pipe: a few bytes at a time

        def seekable(self) -> bool:
            return False

    broken = bytearray(warcs.gz(warcs.response("https://a.example/broken", HTML * 20)))
    broken[40:60] = b"\xff" * 20
    data = (
        warcs.gz(warcs.response("https://a.example/1", HTML))
        + bytes(broken)
        + warcs.gz(warcs.response("https://a.example/2", HTML))
    )
    found = list(records(Pipe(data), max_bytes=LIMIT))  # type: ignore[arg-type]
    assert pages(found) == ["https://a.example/1", "https://a.example/2"]


ARCHIVE = warcs.gz(*(warcs.response(f"https://a.example/{n}", HTML * (n + 1)) for n in range(5)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(ARCHIVE) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_bytes_never_stop_the_reading(damage: list[tuple[int, int]]) -> None:
    data = bytearray(ARCHIVE)
    for at, value in damage:
        data[at] = value
    found = read(bytes(data), gzipped=True)  # as a .warc.gz file is read; never raises
    assert all(r.end >= r.offset for r in found)
    assert len(pages(found)) <= 5
    # every member the damage did not touch is still read
    starts = [r.offset for r in read(ARCHIVE)] + [len(ARCHIVE)]
    touched = {i for i in range(5) for at, _ in damage if starts[i] <= at < starts[i + 1]}
    intact = {f"https://a.example/{i}" for i in range(5) if i not in touched}
    assert intact <= set(pages(found))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_are_never_an_error(data: bytes) -> None:
    for gzipped in (None, True, False):
        for record in records(io.BytesIO(data), max_bytes=LIMIT, gzipped=gzipped):
            assert isinstance(record, Page | Skipped)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(
    url=_TEXT,
    date=_TEXT,
    length=_TEXT,
    kind=st.sampled_from(["response", "revisit", "request", "x"]),
    block=st.binary(max_size=300),
)
def test_any_header_values_give_a_record_or_a_reason(
    url: str, date: str, length: str, kind: str, block: bytes
) -> None:
    fields = (
        f"WARC-Type: {kind}\r\nWARC-Target-URI: {url}\r\nWARC-Date: {date}\r\nContent-Length: {length}\r\n"
    )
    data = ("WARC/1.1\r\n" + fields + "\r\n").encode("utf-8", "surrogatepass") + block + b"\r\n\r\n"
    for raw in (data, gzip.compress(data)):
        for record in read(raw):
            assert isinstance(record, Page | Skipped)
            if isinstance(record, Skipped):
                assert record.reason in SKIP_REASONS
