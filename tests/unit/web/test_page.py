from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from ingest.metrics import STAGES, Metrics
from ingest.web import RateWindow
from ingest.web.page import MAX_FEED_ROWS, Snapshot, published_total, render, stage_counts
from tests.unit.factories import make_article, words

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def feed(name: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": f"https://{name}.example/rss",
        "name": name,
        "state": state,
        "last_polled_at": NOW - timedelta(minutes=3),
        "next_check_at": (NOW + timedelta(minutes=12)).isoformat(),
        "last_status": 200,
        "last_error": None,
        "last_error_reason": None,
        "consecutive_errors": 0,
        "entries_per_day": 42.0,
        **extra,
    }


def snapshot(**overrides: Any) -> Snapshot:
    fields: dict[str, Any] = {
        "now": NOW,
        "version": "1.2.3",
        "ready": True,
        "ready_detail": "ok",
        "articles_per_minute": 12.5,
        "published_total": 1234,
        "stages": stage_counts(Metrics(CollectorRegistry())),
        "feeds": [
            feed("alpha", "ok"),
            feed(
                "beta",
                "failing",
                last_error="http_503: Service Unavailable",
                last_error_reason="http_503",
                consecutive_errors=4,
                last_status=503,
            ),
        ],
        "feed_filter": None,
        "recent": [make_article(words(80), title="Harbour strike")],
    }
    fields.update(overrides)
    return Snapshot(**fields)


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_page_shows_throughput_stages_feeds_and_articles() -> None:
    page = render(snapshot())
    assert page.startswith("<!DOCTYPE html>")
    text = text_of(page)
    assert "articles per minute 12.5" in text
    assert "articles published 1,234" in text
    assert "feeds failing 1" in text
    for stage in STAGES:
        assert f"<th scope=row>{stage}</th>" in page
    assert "alpha" in text
    assert "3 min ago" in text
    assert "in 12 min" in text
    assert "http_503" in text
    assert "Harbour strike" in text


def test_filter_shows_only_feeds_in_that_state() -> None:
    page = render(snapshot(feed_filter="failing"))
    rows = re.findall(r'<tr class="feed (\w+)">', page)
    assert rows == ["failing"]
    assert '<strong aria-current="page">failing (1)</strong>' in page
    assert '<a href="/?state=ok">ok (1)</a>' in page


def test_an_empty_filter_says_so() -> None:
    assert "No feeds in this state." in render(snapshot(feed_filter="gone"))


def test_everything_shown_is_escaped() -> None:
    hostile = feed("<script>alert(1)</script>", "failing", last_error='"><img src=x>')
    page = render(snapshot(feeds=[hostile], recent=[]))
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert '"><img' not in page


def test_links_only_to_web_addresses() -> None:
    page = render(snapshot(feeds=[feed("x", "ok", url="javascript:alert(1)")], recent=[]))
    assert 'href="javascript:' not in page


def test_not_ready_and_no_rate_yet() -> None:
    page = render(snapshot(ready=False, ready_detail="Kafka not acknowledging", articles_per_minute=None))
    assert "not ready: Kafka not acknowledging" in text_of(page)
    assert "id=rate><span class=muted>–</span>" in page


def test_long_feed_lists_are_cut() -> None:
    many = [feed(f"f{i}", "ok") for i in range(MAX_FEED_ROWS + 5)]
    page = render(snapshot(feeds=many))
    assert page.count('<tr class="feed ok">') == MAX_FEED_ROWS
    assert f"of {MAX_FEED_ROWS + 5:,}" in page


def test_stage_counts_sum_errors_and_drops_over_reasons() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.stage_items_in.labels("fetch").inc(10)
    metrics.stage_items_out.labels("fetch").inc(6)
    metrics.stage_errors.labels("fetch", "http_404").inc(3)
    metrics.stage_errors.labels("fetch", "timeout").inc(1)
    metrics.stage_dropped.labels("fetch", "robots_txt").inc(2)
    metrics.stage_in_progress.labels("fetch").inc()
    fetch = next(s for s in stage_counts(metrics) if s.stage == "fetch")
    assert (fetch.items_in, fetch.items_out, fetch.errors, fetch.dropped, fetch.in_progress) == (
        10,
        6,
        4,
        2,
        1,
    )
    metrics.articles_published.labels("feed").inc(2)
    metrics.articles_published.labels("trafilatura").inc(5)
    assert published_total(metrics) == 7


def test_rate_window_needs_some_history_then_gives_per_minute() -> None:
    window = RateWindow(window_s=60)
    window.add(0.0, 100)
    assert window.per_minute() is None
    window.add(5.0, 101)
    assert window.per_minute() is None  # under a sixth of the window
    for second in range(10, 121, 5):
        window.add(float(second), 100 + second)  # one article a second
    assert window.per_minute() == 60.0
