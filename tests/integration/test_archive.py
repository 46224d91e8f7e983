"""`archive.dir` on a live run: every fetched page (and feed) as WARC records that an independent
reader (warcio) reads back, and a backfill of that archive with --republish under the same ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from ingest.models import Article
from tests.support.kafka import read_topic, wait_for_records
from tests.support.site import Site

FEEDS: list[Any] = [
    "/feeds/world.rss",
    {"url": "/feeds/local.atom", "tags": ["local"]},
    "/feeds/problems.rss",
]


def _warc_records(folder: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(folder.glob("*.warc.gz")):
        with path.open("rb") as raw:
            for record in ArchiveIterator(raw):
                found.append(
                    {
                        "type": record.rec_type,
                        "uri": record.rec_headers.get_header("WARC-Target-URI"),
                        "link": record.rec_headers.get_header("Ingest-Entry-Link"),
                        "digest": record.rec_headers.get_header("WARC-Payload-Digest"),
                        "status": record.http_headers.get_statuscode() if record.http_headers else None,
                        "body": record.content_stream().read(),
                    }
                )
    return found


def test_a_live_run_archives_every_fetch_and_a_republish_keeps_the_ids(
    deploy: Any, site: Site, tmp_path: Path
) -> None:
    folder = tmp_path / "archive"
    deployment = deploy(FEEDS, archive={"dir": str(folder), "feeds": True})
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    live = [Article.model_validate_json(r.value) for r in read_topic(deployment.bootstrap, deployment.topic)]
    from_pages = [a for a in live if a.extraction.method != "feed"]
    assert from_pages

    assert not list(folder.glob("*.open"))  # every file closed at the end of the run
    records = _warc_records(folder)
    responses = [r for r in records if r["type"] == "response"]
    assert {r["type"] for r in records} == {"request", "response", "metadata"}
    assert len([r for r in records if r["type"] == "request"]) == len(responses)
    archived = {r["link"] for r in responses}
    for article in from_pages:  # every page an article was extracted from is in the archive
        assert article.url in archived
        response = next(r for r in responses if r["link"] == article.url)
        assert response["uri"] == article.extraction.final_url
        assert response["status"] == "200"
        assert response["body"]
    for feed in ("/feeds/world.rss", "/feeds/local.atom", "/feeds/problems.rss"):
        assert site.url(feed) in archived  # the feed documents too
    ids = {a.id for a in from_pages}
    metadata = b"".join(r["body"] for r in records if r["type"] == "metadata").decode()
    for article_id in ids:
        assert f"article-id: {article_id}" in metadata

    topic = f"{deployment.topic}.reextracted"
    again = deployment.run("backfill", str(folder), "--republish", "--topic", topic)
    assert again.returncode == 0, again.stderr
    republished = [
        Article.model_validate_json(r.value) for r in wait_for_records(deployment.bootstrap, topic, len(ids))
    ]
    assert {a.id for a in republished} == ids
    by_id = {a.id: a for a in from_pages}
    for article in republished:
        assert article.url == by_id[article.id].url
        assert article.body == by_id[article.id].body  # the same code: the same text
