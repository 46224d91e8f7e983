"""The /feeds listing built from feed states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.config import FeedConfig
from ingest.state import FeedState
from ingest.web import feed_status

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_every_configured_feed_is_listed_new_until_polled() -> None:
    feeds = (FeedConfig(url="https://a.example/rss", name="A"), FeedConfig(url="https://b.example/rss"))
    states = {"https://a.example/rss": FeedState(url="https://a.example/rss", last_polled_at=NOW)}
    listed = feed_status(states, feeds, None)
    assert [(f["url"], f["state"]) for f in listed] == [
        ("https://a.example/rss", "ok"),
        ("https://b.example/rss", "new"),
    ]
    assert "sitemaps" not in listed[0]


def test_a_sitemap_index_lists_the_child_sitemaps_polled_with_it() -> None:
    index = "https://a.example/sitemap-index.xml"
    news, sport = "https://a.example/news.xml", "https://a.example/sport.xml"
    states = {
        index: FeedState(url=index, last_polled_at=NOW, children=(news, sport)),
        news: FeedState(url=news, last_polled_at=NOW, entries_seen=12),
        sport: FeedState(url=sport, last_polled_at=NOW, consecutive_errors=1, last_error_reason="http_5xx"),
    }
    (listed,) = feed_status(states, (FeedConfig(url=index),), None)
    assert [(c["url"], c["state"]) for c in listed["sitemaps"]] == [(news, "ok"), (sport, "backing_off")]
    assert listed["sitemaps"][0]["entries_seen"] == 12
    assert listed["sitemaps"][1]["last_error_reason"] == "http_5xx"


def test_entries_per_day_leave_out_the_first_polls_backlog() -> None:
    url = "https://a.example/rss"
    state = FeedState(
        url=url,
        last_polled_at=NOW,
        first_success_at=datetime.now(UTC) - timedelta(days=2),
        last_success_at=NOW,
        first_entries=50,
        entries_seen=70,
    )
    (listed,) = feed_status({url: state}, (FeedConfig(url=url),), None)
    assert 9.9 <= listed["entries_per_day"] <= 10.0  # a little under: the clock moved since NOW
    assert state.first_success_at is not None
    assert state.entries_per_day(state.first_success_at + timedelta(days=2)) == 10.0
    assert FeedState(url=url).entries_per_day(NOW) is None
    young = FeedState(
        url=url,
        first_success_at=NOW - timedelta(minutes=10),
        last_success_at=NOW,
        first_entries=5,
        entries_seen=6,
    )
    assert young.entries_per_day(NOW) == 24.0  # an hour of history at least
    # One successful poll alone: its entries are the feed's backlog, no rate yet (not "0 a day").
    first = FeedState(url=url, first_success_at=NOW, last_success_at=NOW, first_entries=14, entries_seen=14)
    assert first.entries_per_day(NOW) is None
