from __future__ import annotations

import time

import pytest

from ingest.config import FeedConfig, SchedulerSettings
from ingest.source.scheduler import MAX_BACKOFF_EXPONENT, Scheduler

FEEDS = (
    FeedConfig(url="https://a.example/feed"),
    FeedConfig(url="https://b.example/feed", interval=30),
    FeedConfig(url="https://c.example/feed", interval=1),
    FeedConfig(url="https://d.example/feed", interval=10_000),
)


def scheduler(jitter: float = 0.0, feeds: tuple[FeedConfig, ...] = FEEDS) -> Scheduler:
    settings = SchedulerSettings(
        default_interval_s=100, min_interval_s=10, max_interval_s=1000, jitter=jitter
    )
    return Scheduler(feeds, settings)


def test_interval_is_the_feeds_own_or_the_default() -> None:
    s = scheduler()
    assert s.interval(FEEDS[0], 0) == 100
    assert s.interval(FEEDS[1], 0) == 30


def test_interval_is_clamped() -> None:
    s = scheduler()
    assert s.interval(FEEDS[2], 0) == 10  # below min_interval_s
    assert s.interval(FEEDS[3], 0) == 1000  # above max_interval_s


def test_a_failure_is_retried_soon_then_backed_off_up_to_the_maximum() -> None:
    s = scheduler()
    intervals = [s.interval(FEEDS[0], errors) for errors in range(9)]
    # The minimum (10 s) doubled per failure in a row, whatever the feed's interval (100 s).
    assert intervals == [100, 10, 20, 40, 80, 160, 320, 640, 1000]


def test_backoff_never_waits_longer_than_the_feeds_own_interval_doubled() -> None:
    s = scheduler()
    # interval 30 s: 10 (min), 20, 40, 80... as long as under 30 * 2**errors.
    assert [s.interval(FEEDS[1], errors) for errors in range(4)] == [30, 10, 20, 40]


def test_backoff_is_clamped_after_doubling() -> None:
    s = scheduler()
    # interval 1 s: 1, 2, 4, 8 are all raised to the 10 s minimum; 16 is not.
    assert [s.interval(FEEDS[2], errors) for errors in range(5)] == [10, 10, 10, 10, 16]


def test_backoff_exponent_is_bounded() -> None:
    settings = SchedulerSettings(default_interval_s=1, min_interval_s=1, max_interval_s=1e12, jitter=0)
    s = Scheduler(FEEDS[:1], settings)
    assert s.interval(FEEDS[0], MAX_BACKOFF_EXPONENT) == 2 ** (MAX_BACKOFF_EXPONENT - 1)
    assert s.interval(FEEDS[0], 10_000) == 2 ** (MAX_BACKOFF_EXPONENT - 1)


@pytest.mark.parametrize("errors", [0, 2, 20])
def test_jitter_stays_within_bounds(errors: int) -> None:
    s = scheduler(jitter=0.2)
    base = scheduler(jitter=0).interval(FEEDS[0], errors)
    settings = s._settings
    samples = [s.interval(FEEDS[0], errors) for _ in range(500)]
    # Jitter is applied before the clamp: never outside [min, max].
    assert all(
        max(settings.min_interval_s, base * 0.8) <= x <= min(settings.max_interval_s, base * 1.2)
        for x in samples
    )
    # it does spread the polls
    assert max(samples) - min(samples) > base * 0.1
    assert min(samples) < base
    if base < settings.max_interval_s:
        assert base < max(samples)


def test_every_feed_is_due_within_a_second_at_start() -> None:
    s = scheduler(jitter=0.5)
    now = time.monotonic()
    due_in = s.next_due_in(now)
    assert due_in is not None
    assert 0 <= due_in <= 1.0
    ready = s.due(now + 1.0)
    assert sorted(index for index, _ in ready) == [0, 1, 2, 3]
    assert [feed for _, feed in sorted(ready)] == list(FEEDS)
    assert s.next_due_in(now) is None
    assert s.due(now + 10_000) == []


def test_without_jitter_everything_is_due_at_once() -> None:
    s = scheduler(jitter=0)
    assert len(s.due(time.monotonic())) == len(FEEDS)


def test_due_and_done_order() -> None:
    s = scheduler()
    start = time.monotonic() + 1
    assert len(s.due(start)) == 4

    s.done(0, 1, start)  # failed once: retried at the minimum, start + 10
    s.done(1, 0, start)  # due at start + 30
    s.done(2, 4, start)  # interval 1 s, failed four times: 1 doubled four times, start + 16
    s.done(3, 0, start)  # due at start + 1000

    assert s.next_due_in(start) == pytest.approx(10)
    assert s.due(start + 9) == []
    assert s.due(start + 10) == [(0, FEEDS[0])]
    assert s.due(start + 16) == [(2, FEEDS[2])]
    assert s.due(start + 500) == [(1, FEEDS[1])]
    assert s.next_due_in(start + 500) == pytest.approx(500)
    assert s.next_due_in(start + 2000) == 0.0
    assert s.due(start + 2000) == [(3, FEEDS[3])]


def test_a_feed_failing_for_long_is_polled_later_than_a_healthy_one() -> None:
    s = scheduler()
    start = time.monotonic() + 1
    s.due(start)
    s.done(0, 7, start)  # 10 s doubled six times: 640 s, over its healthy 100 s
    s.done(1, 0, start)
    s.done(2, 0, start)
    s.done(3, 0, start)
    order = [index for index, _ in s.due(start + 10_000)]
    assert order == [2, 1, 0, 3]


def test_no_feeds() -> None:
    s = scheduler(feeds=())
    assert s.next_due_in(time.monotonic()) is None
    assert s.due(time.monotonic() + 100) == []


def test_the_feed_asking_for_less_is_honoured_but_capped() -> None:
    s = scheduler()
    now = time.monotonic()
    assert s.done(0, 0, now, hint_s=600) == 600  # Cache-Control / ttl longer than the interval
    assert s.done(0, 0, now, hint_s=5) == 100  # a shorter hint never speeds polls up
    assert s.done(1, 1, now, retry_after=10_000) == 1000  # Retry-After, capped at the maximum
    assert s.done(2, 0, now, gone=True) == 1000  # 410 Gone: the longest interval, never dropped


def test_busy_feeds_are_polled_more_often_and_quiet_ones_less() -> None:
    s = scheduler()
    now = time.monotonic()
    busy = [s.done(0, 0, now, new_entries=2) for _ in range(4)]
    quiet = [s.done(3, 0, now, new_entries=0) for _ in range(4)]
    assert busy == sorted(busy, reverse=True)
    assert busy[-1] < 100
    assert quiet == sorted(quiet)
    assert quiet[-1] == 1000  # 1000 s was already the feed's own interval: clamped to the maximum
    many = [s.done(0, 0, now, new_entries=1) for _ in range(50)]
    assert min(many) >= 10  # never below the minimum


def test_a_backlog_brings_the_next_poll_forward() -> None:
    s = scheduler()
    assert s.done(0, 0, time.monotonic(), backlog=True) == 10


def test_failures_back_off_up_to_the_cap_and_success_resets() -> None:
    s = scheduler()
    now = time.monotonic()
    delays = [s.done(0, errors, now) for errors in range(1, 10)]
    assert delays == sorted(delays)
    assert delays[0] == 10  # the first retry comes soon
    assert delays[-1] == 1000
    assert s.done(0, 0, now) == 100


def test_assign_polls_only_the_owned_feeds() -> None:
    s = scheduler()
    now = time.monotonic()
    s.assign({1, 3}, {1: 50.0, 3: 50.0}, now)
    assert sorted(i for i, _ in s.due(now + 1)) == [1, 3]  # owned already: their due times kept
    s.assign({0}, {0: 2.0}, now)
    assert s.due(now + 1) == []
    assert [i for i, _ in s.due(now + 2)] == [0]
    assert not s.owns(1)


def test_a_feed_given_away_during_its_poll_is_not_rescheduled() -> None:
    s = scheduler()
    now = time.monotonic()
    s.assign({0}, {}, now)
    s.assign(set(), {}, now)  # revoked while its poll ran
    s.done(0, 0, now)
    assert s.due(now + 10_000) == []


def test_a_feed_owned_again_is_polled_once() -> None:
    s = scheduler()
    now = time.monotonic()
    s.assign({0}, {0: 0.0}, now)
    s.assign(set(), {}, now)
    s.assign({0}, {0: 1.0}, now)  # back before its old heap entry was popped
    assert s.due(now + 0.5) == []
    assert [i for i, _ in s.due(now + 1.0)] == [0]
    assert s.due(now + 1.0) == []


def test_takeover_waits_one_interval_after_the_last_poll_by_anyone() -> None:
    s = scheduler()
    assert s.takeover_delay(0, since_last_poll=30, consecutive_errors=0) == 70
    assert s.takeover_delay(0, since_last_poll=500, consecutive_errors=0) == 0
    assert s.takeover_delay(0, since_last_poll=5, consecutive_errors=1) == 5  # retried soon after a failure
    assert s.takeover_delay(0, since_last_poll=30, consecutive_errors=3) == 10  # then backing off
    assert 0 <= s.takeover_delay(0, since_last_poll=None, consecutive_errors=0) <= 1.0
