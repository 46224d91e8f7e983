"""The polling engine as a service: health at /feeds, recovery, politeness, unchanged bodies."""

from __future__ import annotations

import itertools
import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.support.corpus import feed_xml, serve_generated
from tests.support.deploy import Deploy, Deployment
from tests.support.kafka import wait_for_records
from tests.support.site import Site

QUICK = {"min_interval_s": 0.3, "default_interval_s": 0.5, "max_interval_s": 2, "jitter": 0}
RSS = {"Content-Type": "application/rss+xml"}


def _feeds(deployment: Deployment) -> dict[str, dict[str, Any]]:
    status, body = deployment.get("/feeds")
    assert status == 200
    return {f["url"]: f for f in json.loads(body)["feeds"]}


def _wait(condition: Any, limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition never held")


def _metric(deployment: Deployment, line_start: str) -> float:
    _, body = deployment.get("/metrics")
    for line in body.decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {line_start}")


def test_a_failing_feed_backs_off_keeps_being_retried_and_recovers(
    deploy: Deploy, site: Site, tmp_path: Path
) -> None:
    serve_generated(site, 3)
    good = site.routes["/gen/feed.rss"]
    site.routes["/gen/feed.rss"] = (503, {"Content-Type": "text/plain"}, b"down for maintenance")
    deployment = deploy(["/gen/feed.rss"], scheduler=QUICK)
    process = deployment.start(tmp_path / "service.log")
    try:
        deployment.wait_status("/readyz", 200, process)
        url = site.url("/gen/feed.rss")
        _wait(lambda: _feeds(deployment)[url]["consecutive_errors"] >= 3)
        failing = _feeds(deployment)[url]
        assert failing["state"] == "failing"  # two failed polls in a row
        assert failing["last_error_reason"] == "http_5xx"
        assert failing["last_status"] == 503
        assert failing["next_check_at"] is not None
        assert _metric(deployment, 'ingest_feeds{state="failing"}') == 1
        # Intervals grow (the 0.3 s minimum doubled per failure, up to the 2 s maximum), yet polls go on.
        polls = site.requests.count("/gen/feed.rss")
        time.sleep(4)
        assert site.requests.count("/gen/feed.rss") > polls
        site.routes["/gen/feed.rss"] = good  # the feed comes back
        records = wait_for_records(deployment.bootstrap, deployment.topic, 3)
        assert len({r.key for r in records}) == 3
        _wait(lambda: _feeds(deployment)[url]["state"] == "ok")
        assert _metric(deployment, 'ingest_feeds{state="ok"}') == 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0


def test_a_feed_that_asks_for_less_is_polled_less(deploy: Deploy, site: Site, tmp_path: Path) -> None:
    empty = feed_xml(site, range(0))
    site.routes["/eager.rss"] = (200, RSS, empty)
    site.routes["/relaxed.rss"] = (200, {**RSS, "Cache-Control": "max-age=600"}, empty)
    ttl = empty.replace(b"<title>Generated</title>", b"<title>Generated</title><ttl>10</ttl>")
    site.routes["/ttl.rss"] = (200, RSS, ttl)
    site.routes["/retry.rss"] = (429, {"Retry-After": "600", "Content-Type": "text/plain"}, b"slow down")
    site.etags = False
    deployment = deploy(
        ["/eager.rss", "/relaxed.rss", "/ttl.rss", "/retry.rss"],
        scheduler={**QUICK, "max_interval_s": 3600},
    )
    process = deployment.start(tmp_path / "service.log")
    try:
        deployment.wait_status("/readyz", 200, process)
        time.sleep(5)
        counts = {
            path: site.requests.count(path)
            for path in ("/eager.rss", "/relaxed.rss", "/ttl.rss", "/retry.rss")
        }
        assert counts["/eager.rss"] >= 3
        assert counts["/relaxed.rss"] == 1
        assert counts["/ttl.rss"] == 1
        assert counts["/retry.rss"] == 1
        # Without validators the same body came back each time: recognised, not parsed again.
        assert _metric(deployment, 'ingest_feed_polls_total{result="unchanged"}') >= 2
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0


def test_two_feeds_on_one_host_never_exceed_the_per_host_limit(deploy: Deploy, site: Site) -> None:
    serve_generated(site, 40)
    site.page_delay_s = 0.1
    first, second = feed_xml(site, range(0, 20)), feed_xml(site, range(20, 40))
    site.routes["/first.rss"] = (200, RSS, first)
    site.routes["/second.rss"] = (200, RSS, second)
    deployment = deploy(
        ["/first.rss", "/second.rss"],
        http={"allow_private_networks": ["127.0.0.1/32"], "retries": 0, "max_connections_per_host": 2},
        pipeline={"max_articles_in_flight": 32},
    )
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert "published=40" in result.stderr
    assert site.max_active <= 2


def _gaps(site: Site, paths: set[str]) -> list[float]:
    times = [t for p, t in zip(site.requests, site.started, strict=True) if p in paths]
    return [b - a for a, b in itertools.pairwise(times)]


def test_robots_txt_is_honoured_for_article_pages_and_its_crawl_delay_paces_the_host(
    deploy: Deploy, site: Site
) -> None:
    serve_generated(site, 5)
    site.routes["/robots.txt"] = (
        200,
        {"Content-Type": "text/plain"},
        b"User-agent: *\nDisallow: /gen/1.html\nDisallow: /gen/2.html\nCrawl-delay: 0.3\n",
    )
    summary = (
        b"<description>" + b"A summary the feed itself carries, quotable as it is. " * 6 + b"</description>"
    )
    feed = feed_xml(site, range(5)).replace(
        b"<guid isPermaLink='false'>gen-1</guid>", b"<guid>gen-1</guid>" + summary
    )
    site.routes["/gen/feed.rss"] = (200, RSS, feed)
    deployment = deploy(["/gen/feed.rss"])
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    # Entry 1 has the feed's text and is published from it; entry 2 has none and is dropped.
    assert "published=4" in result.stderr
    assert "/gen/1.html" not in site.requests
    assert "/gen/2.html" not in site.requests
    assert site.requests.count("/robots.txt") == 1
    articles = [json.loads(r.value) for r in wait_for_records(deployment.bootstrap, deployment.topic, 4)]
    records = {a["url"]: a for a in articles}
    fed = records[site.url("/gen/1.html")]
    assert fed["extraction"]["method"] == "feed"
    assert fed["extraction"]["fallback_reason"] == "robots_txt"
    assert site.url("/gen/2.html") not in records
    # The pages fetched after robots.txt was read start at least its Crawl-delay apart.
    gaps = _gaps(site, {"/robots.txt", "/gen/0.html", "/gen/3.html", "/gen/4.html"})
    assert len(gaps) == 3
    assert all(gap >= 0.25 for gap in gaps), gaps


def test_polls_and_fetches_share_the_minimum_delay_per_host(deploy: Deploy, site: Site) -> None:
    serve_generated(site, 4)
    site.routes["/other.rss"] = (200, RSS, feed_xml(site, range(0)))
    deployment = deploy(
        ["/gen/feed.rss", "/other.rss"],
        http={"allow_private_networks": ["127.0.0.1/32"], "retries": 0, "min_host_delay_s": 0.25},
    )
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert "published=4" in result.stderr
    gaps = _gaps(site, set(site.requests))
    assert len(gaps) == len(site.requests) - 1 >= 6  # 2 feeds, robots.txt, 4 pages
    assert all(gap >= 0.2 for gap in gaps), gaps


def test_the_daily_full_fetch_parses_an_unchanged_feed_and_renews_its_seen_keys(
    deploy: Deploy, site: Site, tmp_path: Path
) -> None:
    site.etags = False
    deployment = deploy(["/feeds/world.rss"])
    first = deployment.run("run", "--once")
    assert first.returncode == 0, first.stderr
    db = tmp_path / "state" / "ingest.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE seen SET recorded_at = '2000-01-01T00:00:00.000000+00:00'")

    # Within a day of the last full fetch, the same body is recognised and not parsed again.
    again = deployment.run("run", "--once")
    assert again.returncode == 0, again.stderr
    assert "polls: unchanged=1" in again.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT min(recorded_at) FROM seen").fetchone()[0].startswith("2000")

    # A day later the feed is fetched in full and parsed: nothing new, every listed key renewed.
    with sqlite3.connect(db) as conn:
        (url, data) = conn.execute("SELECT url, data FROM feed_state").fetchone()
        state = json.loads(data)
        state["last_full_at"] = "2000-01-01T00:00:00+00:00"
        conn.execute("UPDATE feed_state SET data = ? WHERE url = ?", (json.dumps(state), url))
    full = deployment.run("run", "--once")
    assert full.returncode == 0, full.stderr
    assert "polls: modified=1" in full.stderr
    assert "published=" not in full.stderr.split("done:", 1)[1]
    with sqlite3.connect(db) as conn:
        assert not conn.execute("SELECT min(recorded_at) FROM seen").fetchone()[0].startswith("2000")
