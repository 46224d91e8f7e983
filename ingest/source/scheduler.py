"""When to poll each feed next: its interval, backed off after failures, with jitter, clamped."""

from __future__ import annotations

import heapq
import random
import time

from ingest.config import FeedConfig, SchedulerSettings

MAX_BACKOFF_EXPONENT = 10


class Scheduler:
    """A min-heap of (due time, feed). ``due()`` pops what is due; ``done()`` schedules it again."""

    def __init__(self, feeds: tuple[FeedConfig, ...], settings: SchedulerSettings) -> None:
        self._settings = settings
        self._feeds = feeds
        self._rng = random.Random()
        now = time.monotonic()
        # Spread the first polls a little so a large list does not start in one burst.
        self._heap = [(now + self._rng.uniform(0, min(1.0, settings.jitter)), i) for i in range(len(feeds))]
        heapq.heapify(self._heap)

    def interval(self, feed: FeedConfig, consecutive_errors: int) -> float:
        s = self._settings
        base = feed.interval or s.default_interval_s
        if consecutive_errors:
            base *= 2 ** min(consecutive_errors, MAX_BACKOFF_EXPONENT)
        # Clamp, jitter, clamp again: never outside the bounds, yet feeds held at the maximum
        # still spread out instead of polling in step.
        base = min(max(base, s.min_interval_s), s.max_interval_s)
        jittered = base * (1 + self._rng.uniform(-s.jitter, s.jitter))
        return min(max(jittered, s.min_interval_s), s.max_interval_s)

    def next_due_in(self, now: float) -> float | None:
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def due(self, now: float) -> list[tuple[int, FeedConfig]]:
        ready: list[tuple[int, FeedConfig]] = []
        while self._heap and self._heap[0][0] <= now:
            _, index = heapq.heappop(self._heap)
            ready.append((index, self._feeds[index]))
        return ready

    def done(self, index: int, consecutive_errors: int, now: float, *, backlog: bool = False) -> None:
        """Schedule the feed's next poll: soon when it left a backlog of new entries."""
        feed = self._feeds[index]
        delay = self._settings.min_interval_s if backlog else self.interval(feed, consecutive_errors)
        heapq.heappush(self._heap, (now + delay, index))
