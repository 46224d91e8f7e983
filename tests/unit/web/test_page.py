from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from ingest.metrics import STAGES, Metrics
from ingest.web import History
from ingest.web.page import MAX_FEED_ROWS, Snapshot, published_total, render, stage_counts
from tests.unit.factories import make_article, words

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def feed(name: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": f"https://{name}.example/rss",
        "name": name,
        "state": state,
        "last_polled_at": NOW - timedelta(minutes=3),
        "last_success_at": NOW - timedelta(minutes=3),
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
        "published_total": 1234,
        "uptime_s": 7200.0,
        "last_publish_at": NOW - timedelta(seconds=40),
        "dead_letters": 3,
        "broker": "kafka:9092",
        "broker_ok": True,
        "per_minute": [None] * 50 + [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        "last_5_min": 35,
        "last_hour": 45,
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
    assert "last article published 40 s ago" in text
    assert "articles, last 5 min 35" in text
    assert "articles, last hour 45" in text
    assert "published since start 1,234" in text
    assert "dead letters 3" in text
    assert "feeds failing 1 of 2" in text
    assert "feeds never succeeded 0" in text
    assert "uptime 2.0 h" in text
    assert "Kafka kafka:9092 · acknowledging" in text
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


def test_not_ready_and_no_history_yet() -> None:
    page = render(
        snapshot(
            ready=False,
            ready_detail="Kafka not acknowledging",
            broker_ok=False,
            last_5_min=None,
            last_hour=None,
            per_minute=[],
            last_publish_at=None,
            uptime_s=20.0,
        )
    )
    text = text_of(page)
    assert "not ready: Kafka not acknowledging" in text
    assert "Kafka kafka:9092 · not acknowledging" in text
    assert "id=last-5-min><span class=muted>–</span>" in page
    assert "since start (20 s)" in text  # the windows say they are shorter than their name
    assert "last article published none yet" in text
    assert "no history yet" in text


def test_feeds_polled_but_never_successful_are_counted() -> None:
    never = feed("gamma", "failing", last_success_at=None, consecutive_errors=2)
    fine = feed("alpha", "ok", last_success_at=NOW - timedelta(minutes=3))
    text = text_of(render(snapshot(feeds=[never, fine, feed("new", "new")])))
    assert "feeds never succeeded 1" in text
    assert "feeds failing 1 of 3" in text


def test_the_chart_has_a_bar_per_minute_with_history() -> None:
    page = render(snapshot())
    svg = page[page.index("<svg id=per-minute") : page.index("</svg>")]
    assert 'aria-label="Articles published per minute, last 60 minutes"' in svg
    assert svg.count("<rect class=bar") == 9  # the minutes before the start, and the empty one, draw nothing
    assert "<title>9</title>" in svg
    assert ">9</text>" in svg  # the scale: the busiest minute


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


def test_history_counts_per_minute_and_over_windows() -> None:
    history = History()
    assert history.count(0.0, 300) is None
    for second in range(0, 601, 5):
        history.add(float(second), second // 10)  # one article every 10 s
    assert history.count(600.0, 300) == 30
    assert history.count(600.0, 3600) == 60  # since the first sample: there is no more history
    bars = history.per_minute(600.0)
    assert bars[:50] == [None] * 50  # before the first sample
    assert bars[50:] == [6] * 10


def test_history_keeps_an_hour() -> None:
    history = History()
    for second in range(0, 7201, 5):
        history.add(float(second), second)
    assert history.count(7200.0, 3600) == 3600
    assert history.per_minute(7200.0) == [60] * 60
    assert len(history._times) <= 3600 // 5 + 14


def test_history_ignores_samples_out_of_order() -> None:
    history = History()
    history.add(10.0, 5)
    history.add(5.0, 100)
    history.add(20.0, 7)
    assert history.count(20.0, 60) == 2
