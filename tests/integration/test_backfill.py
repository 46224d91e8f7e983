"""`ingest backfill` against a real broker: archives made byte by byte (gzip per record, a revisit,
a truncated record, a non-HTML one, a corrupt member), read from files, directories, path lists
and loopback URLs; the articles, the counts by reason, a resume after SIGKILL, a second run."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.models import Article, DeadLetter
from ingest.urls import article_id, canonicalize
from tests.support import corpus, warcs
from tests.support.deploy import env
from tests.support.kafka import read_topic, wait_for_records
from tests.support.site import Site

HOST = "https://news.example"
EMPTY = b"<html><head><title>x</title></head><body></body></html>"


def _articles(records: list[Any]) -> list[Article]:
    return [Article.model_validate_json(r.value) for r in records]


def _corrupt(record: bytes) -> bytes:
    member = bytearray(warcs.gz(record))
    member[40:60] = b"\xff" * 20
    return bytes(member)


def mixed_archive(path: Path, first: int = 0, count: int = 10) -> list[str]:
    """An archive with ``count`` article pages and one record of every other kind; the URLs of
    the pages that must come out as articles."""
    urls = [f"{HOST}/gen/{n}.html" for n in range(first, first + count)]
    records = [warcs.warcinfo()]
    for n, url in zip(range(first, first + count), urls, strict=True):
        when = warcs.DATE + timedelta(minutes=n)
        records += [warcs.request(url), warcs.response(url, corpus.article_html(n), date=when)]
    records += [
        warcs.response(f"{HOST}/report.pdf", b"%PDF-1.4 ...", content_type="application/pdf"),
        warcs.response(f"{HOST}/gone.html", b"<html>gone</html>", status=404),
        warcs.response(f"{HOST}/cut.html", corpus.article_html(900), headers={"WARC-Truncated": "length"}),
        warcs.revisit(f"{HOST}/gen/{first}.html?again", corpus.article_html(first)),
        warcs.response(f"{HOST}/empty.html", EMPTY),
    ]
    data = warcs.gz(*records) + _corrupt(warcs.response(f"{HOST}/broken.html", corpus.article_html(901)))
    last = f"{HOST}/gen/after-the-damage.html"
    data += warcs.gz(warcs.response(last, corpus.article_html(902)))
    path.write_bytes(data)
    return [*urls, last]


def _backfill(deployment: Any, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return deployment.run("backfill", *args, timeout=timeout)


def test_an_archive_is_published_like_live_fetches_and_a_second_run_adds_nothing(
    deploy: Any, tmp_path: Path
) -> None:
    deployment = deploy([])
    archive = tmp_path / "crawl" / "CC-NEWS-20240301.warc.gz"
    archive.parent.mkdir()
    urls = mixed_archive(archive)
    result = _backfill(deployment, str(archive.parent))
    assert result.returncode == 0, result.stderr

    articles = _articles(wait_for_records(deployment.bootstrap, deployment.topic, len(urls)))
    assert sorted(a.url or "" for a in articles) == sorted(urls)
    by_url = {a.url: a for a in articles}
    first = by_url[urls[0]]
    assert first.id == article_id(canonicalize(urls[0]))
    assert first.fetched_at == warcs.DATE  # the record's WARC-Date, not now
    assert first.discovered_at == warcs.DATE
    assert by_url[urls[3]].fetched_at == warcs.DATE + timedelta(minutes=3)
    assert first.source.feed_url == str(archive)  # the source names the archive
    assert first.title == "Generated story number 0"
    assert first.extraction.http_status == 200
    assert first.extraction.method != "feed"

    dead = [
        DeadLetter.model_validate_json(r.value)
        for r in read_topic(deployment.bootstrap, deployment.dlq_topic)
    ]
    assert [(d.url, d.reason) for d in dead] == [(f"{HOST}/empty.html", "no_content")]
    summary = result.stderr
    for counted in ("not_html=1", "http_status=1", "truncated=1", "corrupt_gzip=1", f"page={len(urls) + 2}"):
        assert counted in summary, summary
    assert "dropped=1" in summary  # the revisit: the text of gen/0 under another URL

    again = _backfill(deployment, str(archive))
    assert again.returncode == 0, again.stderr
    assert "read to its end by an earlier backfill" in again.stderr
    assert len(read_topic(deployment.bootstrap, deployment.topic)) == len(urls)

    restarted = _backfill(deployment, str(archive), "--restart")  # read again: every key is seen
    assert restarted.returncode == 0, restarted.stderr
    assert "published=" not in restarted.stderr.rsplit("done:", 1)[-1]
    assert len(read_topic(deployment.bootstrap, deployment.topic)) == len(urls)

    other = f"{deployment.topic}.v2"
    republished = _backfill(deployment, str(archive), "--republish", "--topic", other)
    assert republished.returncode == 0, republished.stderr
    copies = _articles(wait_for_records(deployment.bootstrap, other, len(urls)))
    assert sorted(a.id for a in copies) == sorted(a.id for a in articles)  # the same ids


def test_dates_and_hosts_filter_the_records(deploy: Any, tmp_path: Path) -> None:
    deployment = deploy([])
    archive = tmp_path / "a.warc.gz"
    day = datetime(2024, 3, 1, tzinfo=UTC)
    archive.write_bytes(
        warcs.gz(
            warcs.response(
                "https://a.example/before", corpus.article_html(1), date=day - timedelta(seconds=1)
            ),
            warcs.response("https://a.example/first", corpus.article_html(2), date=day),
            warcs.response(
                "https://www.b.example/last", corpus.article_html(3), date=day + timedelta(hours=23)
            ),
            warcs.response("https://c.example/other", corpus.article_html(4), date=day),
            warcs.response("https://a.example/after", corpus.article_html(5), date=day + timedelta(days=1)),
        )
    )
    result = _backfill(
        deployment,
        str(archive),
        "--since",
        "2024-03-01",
        "--until",
        "2024-03-01",
        "--host",
        "a.example",
        "--host",
        "*.b.example",
    )
    assert result.returncode == 0, result.stderr
    articles = _articles(wait_for_records(deployment.bootstrap, deployment.topic, 2))
    assert sorted(a.url or "" for a in articles) == ["https://a.example/first", "https://www.b.example/last"]
    assert "out_of_range=2" in result.stderr
    assert "other_host=1" in result.stderr


def _progress(state: Path) -> int:
    if not state.exists():
        return 0
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        try:
            row = db.execute("SELECT max(offset) FROM archive_progress").fetchone()
        except sqlite3.OperationalError:  # the table is not there yet
            return 0
    return int(row[0] or 0)


def test_a_killed_backfill_resumes_where_it_was_and_loses_nothing(deploy: Any, tmp_path: Path) -> None:
    deployment = deploy([], pipeline={"workers": 1, "max_articles_in_flight": 8})
    archive = tmp_path / "big.warc.gz"
    count = 500  # long enough to be killed after its first saved progress, 2 s in
    archive.write_bytes(
        warcs.gz(*(warcs.response(f"{HOST}/gen/{n}.html", corpus.article_html(n)) for n in range(count)))
    )
    command = [sys.executable, "-m", "ingest", "backfill", str(archive), "--config", str(deployment.config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    state = tmp_path / "state" / "ingest.db"
    deadline = time.monotonic() + 120
    try:
        while _progress(state) == 0:  # progress saved after some acks: kill it mid-file
            assert process.poll() is None, "the backfill ended before it was killed"
            assert time.monotonic() < deadline, "no progress saved in 120 s"
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait()
    saved = _progress(state)
    assert 0 < saved < archive.stat().st_size
    before = len(read_topic(deployment.bootstrap, deployment.topic))
    assert before < count

    result = _backfill(deployment, str(archive), timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"resuming at byte {saved}" in result.stderr
    records = wait_for_records(deployment.bootstrap, deployment.topic, count)
    ids = [a.id for a in _articles(records)]
    assert set(ids) == {
        article_id(canonicalize(f"{HOST}/gen/{n}.html")) for n in range(count)
    }  # nothing lost
    assert len(ids) - count <= 8  # duplicates: at most the articles in flight at the kill


def test_archives_by_url_and_a_path_list_relative_to_the_base_url(
    deploy: Any, site: Site, tmp_path: Path
) -> None:
    deployment = deploy([])
    first, second = tmp_path / "one.warc.gz", tmp_path / "two.warc"
    first_urls = mixed_archive(first, 0, 4)
    second.write_bytes(warcs.response(f"{HOST}/plain/1.html", corpus.article_html(500)))
    site.routes["/crawl-data/CC-NEWS/one.warc.gz"] = (
        200,
        {"Content-Type": "application/octet-stream"},
        first.read_bytes(),
    )
    site.routes["/crawl-data/CC-NEWS/two.warc"] = (
        200,
        {"Content-Type": "application/warc"},
        second.read_bytes(),
    )
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/CC-NEWS/one.warc.gz\ncrawl-data/CC-NEWS/two.warc\n"))
    result = _backfill(deployment, str(listing), "--base-url", site.url("/"))
    assert result.returncode == 0, result.stderr
    articles = _articles(wait_for_records(deployment.bootstrap, deployment.topic, len(first_urls) + 1))
    assert sorted(a.url or "" for a in articles) == sorted([*first_urls, f"{HOST}/plain/1.html"])
    assert {a.source.feed_url for a in articles} == {
        site.url("/crawl-data/CC-NEWS/one.warc.gz"),
        site.url("/crawl-data/CC-NEWS/two.warc"),
    }
    assert "/crawl-data/CC-NEWS/one.warc.gz" in site.requests

    missing = _backfill(deployment, site.url("/crawl-data/CC-NEWS/missing.warc.gz"))
    assert missing.returncode == 1
    assert "1 archives could not be read to their end" in missing.stderr
