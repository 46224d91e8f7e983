"""`ingest run --once` against a real broker and the loopback site."""

from __future__ import annotations

import json
import signal
import time
import uuid
from typing import Any

from ingest.kafka.embedded import free_port
from ingest.models import Article, DeadLetter
from ingest.urls import article_id, canonicalize
from tests.integration.conftest import EXPECTED
from tests.support.kafka import read_topic
from tests.support.site import Site

ALL_FEEDS: list[Any] = [
    "/feeds/world.rss",
    {"url": "/feeds/local.atom", "tags": ["local"], "name": "Local"},
    "/feeds/problems.rss",
]
STRIKE_COPIES = {"/articles/harbour-strike.html", "/articles/wire-copy.html"}


def _articles(records: list[Any]) -> list[Article]:
    return [Article.model_validate_json(r.value) for r in records]


def _path(site: Site, url: str | None) -> str:
    assert url is not None
    return url.removeprefix(site.base).split("?", 1)[0]


def test_once_publishes_every_distinct_article_exactly_once(deploy: Any, site: Site) -> None:
    deployment = deploy(ALL_FEEDS)
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr

    records = read_topic(deployment.bootstrap, deployment.topic)
    articles = _articles(records)
    paths = sorted(_path(site, a.url) for a in articles)
    # 8 pages, council-budget listed twice (once with tracking parameters), the wire copy and
    # its original share one text, the feed-only brief falls back to the feed's content.
    expected_pages = sorted(p for p in EXPECTED if p not in STRIKE_COPIES)
    assert len(paths) == len(set(paths)) == 8
    assert [p for p in paths if p in STRIKE_COPIES] in (
        ["/articles/harbour-strike.html"],
        ["/articles/wire-copy.html"],
    )
    assert set(paths) - STRIKE_COPIES == set(expected_pages) | {"/missing/brief.html"}

    for record, article in zip(records, articles, strict=True):
        assert record.key == article.id.encode()
        assert article.id == article_id(canonicalize(article.url or ""))
        headers = dict(record.headers)
        assert headers["content-type"] == b"application/json"
        assert headers["schema-version"] == b"1"
        assert json.loads(record.value)["schema_version"] == 1
        assert article.body.strip()
        assert "\n\n\n" not in article.body
        assert article.source.feed_url.startswith(site.base + "/feeds/")

    by_path = {_path(site, a.url): a for a in articles}
    for path, expected in EXPECTED.items():
        if path not in by_path:
            continue
        article = by_path[path]
        assert article.extraction.method == "trafilatura"
        assert article.title == expected["title"]
        assert article.language == expected["language"]
        assert article.published_at is not None
        assert article.published_at.isoformat().replace("+00:00", "Z") == expected["published_at"]
        for sentence in expected["must_contain"]:
            assert sentence in article.body
        for chrome in expected["must_not_contain"]:
            assert chrome not in article.body

    budget = by_path["/articles/council-budget.html"]
    assert budget.canonical_url == site.url("/articles/council-budget.html")
    brief = by_path["/missing/brief.html"]
    assert brief.extraction.method == "feed"
    assert brief.extraction.fallback_reason == "http_404"
    assert brief.word_count > 50
    local = [a for a in articles if a.source.feed_url.endswith("local.atom")]
    assert local
    assert all("local" in a.tags for a in local)


def test_unprocessable_pages_go_to_the_dead_letter_topic(deploy: Any, site: Site) -> None:
    deployment = deploy(["/feeds/problems.rss"])
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr

    dlq = read_topic(deployment.bootstrap, deployment.dlq_topic)
    letters = [DeadLetter.model_validate_json(r.value) for r in dlq]
    by_url = {_path(site, letter.url): letter for letter in letters}
    assert set(by_url) == {"/missing/gone-story.html", "/files/report.bin"}
    assert all(letter.reason == "no_content" for letter in letters)
    assert "http_404" in by_url["/missing/gone-story.html"].error
    assert "unsupported_content" in by_url["/files/report.bin"].error
    published = _articles(read_topic(deployment.bootstrap, deployment.topic))
    assert [_path(site, a.url) for a in published] == ["/missing/brief.html"]

    again = deployment.run("run", "--once")
    assert again.returncode == 0, again.stderr
    assert len(read_topic(deployment.bootstrap, deployment.dlq_topic)) == 2


def test_second_run_publishes_nothing_new_then_only_new_entries(deploy: Any, site: Site) -> None:
    deployment = deploy(ALL_FEEDS)
    assert deployment.run("run", "--once").returncode == 0
    first = read_topic(deployment.bootstrap, deployment.topic)
    assert len(first) == 8

    site.requests.clear()
    second = deployment.run("run", "--once")
    assert second.returncode == 0, second.stderr
    assert len(read_topic(deployment.bootstrap, deployment.topic)) == 8
    assert not [p for p in site.requests if p.startswith(("/articles/", "/missing/"))]

    # The feed changes (new validators): only the new entry is fetched and published.
    status, headers, body = site.content("/feeds/world.rss")
    item = (
        "<item><title>Lighthouse keeper retires</title>"
        f"<link>{site.base}/articles/museum-reopens.html?utm_campaign=x</link>"
        "<guid isPermaLink='false'>hg-2001</guid></item>"
    ).encode()
    site.routes["/feeds/world.rss"] = (status, headers, body.replace(b"<item>", item + b"<item>", 1))
    site.routes["/feeds/local.atom"] = (404, {}, b"")
    site.requests.clear()
    third = deployment.run("run", "--once")
    assert third.returncode == 0, third.stderr
    # museum-reopens was already published from the Atom feed: same canonical URL, nothing new.
    assert len(read_topic(deployment.bootstrap, deployment.topic)) == 8
    assert "/articles/museum-reopens.html" not in site.requests

    site.routes["/articles/lighthouse.html"] = site.content("/articles/tram-line.html")
    new_item = item.replace(b"museum-reopens.html?utm_campaign=x", b"lighthouse.html")
    new_item = new_item.replace(b"hg-2001", b"hg-2002")
    site.routes["/feeds/world.rss"] = (status, headers, body.replace(b"<item>", new_item + b"<item>", 1))
    fourth = deployment.run("run", "--once")
    assert fourth.returncode == 0, fourth.stderr
    # Same text as the tram-line article: a near-copy under a new URL is not published again...
    assert len(read_topic(deployment.bootstrap, deployment.topic)) == 8
    assert "/articles/lighthouse.html" in site.requests


def test_private_addresses_are_refused_unless_allowed(deploy: Any, site: Site) -> None:
    deployment = deploy(["/feeds/world.rss"], http={"allow_private_networks": False})
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert "blocked_address" in result.stderr
    assert site.requests == []
    assert read_topic(deployment.bootstrap, deployment.topic, idle_s=0.5) == []


def test_unreachable_broker_is_a_clear_fatal_error(deploy: Any) -> None:
    deployment = deploy(
        ["/feeds/world.rss"], kafka={"bootstrap_servers": "127.0.0.1:9", "connect_timeout_s": 2}
    )
    result = deployment.run("run", "--once")
    assert result.returncode == 1
    assert "no Kafka broker reachable at 127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_embedded_broker_is_the_default(deploy: Any) -> None:
    deployment = deploy(["/feeds/problems.rss"], kafka={"bootstrap_servers": "embedded", "embedded_port": 0})
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert "storage in memory" in result.stderr
    assert "consumers connect with bootstrap_servers=127.0.0.1:" in result.stderr
    assert "published=1" in result.stderr


def test_a_restart_on_the_embedded_broker_publishes_again_what_the_feeds_list(
    deploy: Any, tmp_path: Any
) -> None:
    """The embedded broker forgets its topics at every stop; the state is started empty with it, so
    the next start publishes the feeds' articles again, and `ingest tail` shows them."""
    port = free_port("127.0.0.1")
    deployment = deploy(["/feeds/world.rss"], kafka={"bootstrap_servers": "embedded", "embedded_port": port})
    for start in range(2):
        log = tmp_path / f"run-{start}.log"
        process = deployment.start(log)
        try:
            deployment.wait_status("/readyz", 200, process, limit_s=120)
            deadline = time.monotonic() + 120
            while True:
                shown = deployment.run("tail", "--from-beginning", "--json")
                if shown.returncode == 0 and len(shown.stdout.splitlines()) >= 4:
                    break
                assert time.monotonic() < deadline, (
                    f"run {start}: tail showed {shown.stdout!r} {shown.stderr!r}"
                )
                time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        titles = {json.loads(line)["title"] for line in shown.stdout.splitlines()}
        assert len(titles) == 4, titles
        assert "kept across restarts: nothing" in log.read_text()


def test_a_real_broker_is_said_to_keep_the_topics(deploy: Any) -> None:
    result = deploy(["/feeds/world.rss"]).run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert "kept across restarts: the state (SQLite file" in result.stderr


def test_state_shared_in_redis_carries_over_between_runs(deploy: Any, redis_url: str) -> None:
    """Two runs on one Redis state (as two instances would share it): the second finds every
    article already seen and publishes nothing."""
    prefix = f"it-{uuid.uuid4().hex[:8]}"
    first = deploy(["/feeds/world.rss"], state={"url": redis_url, "key_prefix": prefix})
    result = first.run("run", "--once")
    assert result.returncode == 0, result.stderr
    published = read_topic(first.bootstrap, first.topic)
    assert len(published) == 4

    second = deploy(["/feeds/world.rss"], state={"url": redis_url, "key_prefix": prefix})
    assert second.topic != first.topic
    result = second.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert read_topic(second.bootstrap, second.topic) == []
    assert "published=" not in result.stderr.split("done:", 1)[1]


def test_the_latest_topic_holds_each_published_article_under_its_key(deploy: Any) -> None:
    latest = f"latest-{uuid.uuid4().hex[:8]}"
    deployment = deploy(["/feeds/world.rss"], kafka={"latest_topic": latest})
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    published = {(r.key, r.value) for r in read_topic(deployment.bootstrap, deployment.topic)}
    kept = [(r.key, r.value, dict(r.headers)) for r in read_topic(deployment.bootstrap, latest)]
    assert len(published) == 4
    assert {(key, value) for key, value, _ in kept} == published
    assert all(headers["ce_type"] == b"example.ingest.article" for _, _, headers in kept)
    assert f"created topic {latest} (partitions=3, replication=1, cleanup.policy=compact)" in result.stderr
