"""The archive writer: WARC records an independent reader reads back, files rotated by size and
closed whole, files a crash left open kept, and a disk that is slow or full never an error."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry
from warcio.archiveiterator import ArchiveIterator

from ingest.archive.records import Page, records
from ingest.archive.writer import (
    MAX_QUEUED_BYTES,
    OPEN_SUFFIX,
    Archive,
    Capture,
    capture_records,
    payload_digest,
)
from ingest.metrics import Metrics

WHEN = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def capture(n: int, body: bytes = b"<html><body><p>Page.</p></body></html>") -> Capture:
    return Capture(
        "page",
        f"https://news.example/final/{n}",
        f"https://news.example/story/{n}?utm_source=feed",
        200,
        "text/html; charset=utf-8",
        body,
        WHEN,
        article_id=f"id{n}",
        feed_url="https://news.example/feed.xml",
    )


def test_the_records_read_back_with_warcio_and_with_our_reader() -> None:
    data = capture_records(capture(1), "ingest/1.0 (+https://ingest.example)")
    kinds = []
    for record in ArchiveIterator(io.BytesIO(data)):  # a record is read while the iterator is on it
        kinds.append(record.rec_type)
        if record.rec_type == "response":
            headers = record.rec_headers
            assert headers.get_header("WARC-Target-URI") == "https://news.example/final/1"
            assert headers.get_header("WARC-Date") == "2024-03-01T12:00:00.123456Z"
            assert headers.get_header("WARC-Payload-Digest") == payload_digest(capture(1).body)
            assert record.http_headers.get_statuscode() == "200"
            assert record.content_stream().read() == capture(1).body
        if record.rec_type == "metadata":
            assert b"article-id: id1" in record.content_stream().read()
    assert kinds == ["request", "response", "metadata"]
    pages = [r for r in records(io.BytesIO(data), max_bytes=10_000) if isinstance(r, Page)]
    assert len(pages) == 1
    assert (pages[0].url, pages[0].link, pages[0].date) == (
        "https://news.example/final/1",
        "https://news.example/story/1?utm_source=feed",
        WHEN,
    )


def test_files_rotate_by_size_and_every_one_is_closed_whole(tmp_path: Path) -> None:
    metrics = Metrics(CollectorRegistry())
    archive = Archive(
        tmp_path, metrics, user_agent="ua", max_file_bytes=4000, max_file_age_s=3600, queue_size=100
    )
    archive.start()
    for n in range(12):
        assert archive.put(capture(n, b"<p>" + bytes([65 + n]) * 2000 + b"</p>"))
    archive.close()
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert len(files) > 2
    assert not list(tmp_path.glob("*" + OPEN_SUFFIX))
    urls = []
    for path in files:
        with path.open("rb") as raw:
            urls += [
                r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(raw)
                if r.rec_type == "response"
            ]
    assert urls == [f"https://news.example/final/{n}" for n in range(12)]
    assert metrics.archive_captures.labels("written")._value.get() == 12
    assert metrics.archive_files._value.get() == len(files)


def test_a_file_left_open_by_a_crash_is_kept_at_the_next_start(tmp_path: Path) -> None:
    left = tmp_path / ("ingest-20240301000000-1-00001" + OPEN_SUFFIX)
    second = capture_records(capture(2), "ua")
    left.write_bytes(capture_records(capture(1), "ua") + second[: len(second) // 2])  # cut inside a member
    archive = Archive(
        tmp_path,
        Metrics(CollectorRegistry()),
        user_agent="ua",
        max_file_bytes=10**6,
        max_file_age_s=3600,
        queue_size=10,
    )
    archive.start()
    archive.close()
    kept = tmp_path / left.name.removesuffix(".open")
    assert kept.is_file()
    with kept.open("rb") as raw:
        pages = [r for r in records(raw, max_bytes=10**6) if isinstance(r, Page)]
    assert [p.url for p in pages] == ["https://news.example/final/1"]  # the member cut short is skipped


def test_a_full_queue_drops_captures_and_says_so(tmp_path: Path) -> None:
    metrics = Metrics(CollectorRegistry())
    archive = Archive(
        tmp_path, metrics, user_agent="ua", max_file_bytes=10**6, max_file_age_s=3600, queue_size=2
    )
    # not started: nothing takes from the queue, as a disk that does not keep up
    assert archive.put(capture(1))
    assert archive.put(capture(2))
    assert not archive.put(capture(3))
    assert metrics.archive_captures.labels("dropped")._value.get() == 1


def test_the_queue_is_bounded_by_the_bytes_it_holds_too(tmp_path: Path) -> None:
    metrics = Metrics(CollectorRegistry())
    archive = Archive(
        tmp_path, metrics, user_agent="ua", max_file_bytes=10**9, max_file_age_s=3600, queue_size=100
    )
    big = b"x" * (MAX_QUEUED_BYTES // 2 + 1)
    assert archive.put(capture(1, big))  # not started: the queue only fills
    assert not archive.put(capture(2, big))  # two would hold more than MAX_QUEUED_BYTES
    assert archive.put(capture(3))  # a small one still fits
    assert metrics.archive_captures.labels("dropped")._value.get() == 1
    archive.start()
    archive.close()
    assert archive.put(capture(4, big))  # written: the bytes are free again


def test_a_full_disk_counts_failed_writes_and_goes_on(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import resource, signal, sys
        from pathlib import Path
        from datetime import UTC, datetime
        from prometheus_client import CollectorRegistry
        from ingest.archive.writer import Archive, Capture
        from ingest.metrics import Metrics
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY))  # a disk that fills up
        metrics = Metrics(CollectorRegistry())
        archive = Archive(
            Path(sys.argv[1]), metrics, user_agent="u", max_file_bytes=10**9, max_file_age_s=60, queue_size=50
        )
        archive.start()
        body = bytes(range(256)) * 20  # incompressible: about 5 kB a capture
        for n in range(30):
            url = f"https://x.example/{n}"
            archive.put(Capture("page", url, url, 200, "text/html", body, datetime.now(UTC)))
        archive.close()
        counts = metrics.archive_captures
        print(int(counts.labels("written")._value.get()), int(counts.labels("failed")._value.get()))
        """
    )
    folder = tmp_path / "archive"
    result = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).parents[3],
    )
    assert result.returncode == 0, result.stderr
    written, failed = map(int, result.stdout.split())
    assert written >= 1
    assert failed >= 1
    assert written + failed == 30
    assert "cannot write to" in result.stderr
