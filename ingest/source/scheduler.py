"""When to poll each feed next.

Policy as data: next check = the feed's interval (its own, else the default), scaled by how often
its recent polls brought new entries (shorter for busy feeds, longer for quiet ones), never sooner
than the feed itself asks (Cache-Control, Expires, RSS ttl, sy:updatePeriod, Retry-After), doubled
After a failure the feed is retried at the minimum interval, doubled per consecutive failure
(1, 2, 4, 8… minutes by default: a feed that is down is known to be failing within minutes), never
later than its own interval doubled as often. Everything is clamped between the minimum and the
maximum and spread by jitter so feeds do not poll in step. A feed is never given up: a failing one
ends up polled at the maximum interval, and a 410 Gone one too.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Iterable, Mapping

from ingest.config import FeedConfig, SchedulerSettings

MAX_BACKOFF_EXPONENT = 10
STARTUP_RATE = 200.0
# How much one poll moves a feed's rate factor, and the factor's bounds.
BUSIER, QUIETER = 0.8, 1.25
FACTOR_MIN, FACTOR_MAX = 0.25, 4.0


class Scheduler:
    """A min-heap of (due time, feed). ``due()`` pops what is due; ``done()`` schedules it again."""

    def __init__(self, feeds: tuple[FeedConfig, ...], settings: SchedulerSettings) -> None:
        self._settings = settings
        self._feeds = feeds
        self._rng = random.Random()
        self._factor = [1.0] * len(feeds)
        now = time.monotonic()
        # Spread the first polls so a large list does not start in one burst: at most
        # STARTUP_RATE first polls per second, and never beyond one default interval.
        burst = len(feeds) / STARTUP_RATE if len(feeds) > STARTUP_RATE else 0.0
        spread = min(settings.default_interval_s, max(min(1.0, settings.jitter), burst))
        self._spread = spread
        self.due_at = [now + self._rng.uniform(0, spread) for _ in feeds]
        self._heap = [(due, i) for i, due in enumerate(self.due_at)]
        heapq.heapify(self._heap)
        self._owned: set[int] | None = None  # None: every feed (role all)

    def assign(self, owned: Iterable[int], due_in: Mapping[int, float], now: float) -> None:
        """Poll only the ``owned`` feeds from now on (a poller's share of the fleet's feeds). A feed
        newly owned comes due after ``due_in[index]`` seconds (see ``takeover_delay``)."""
        owned = set(owned)
        for index in owned - self.owned:
            self.due_at[index] = now + due_in.get(index, 0.0)
        self._owned = owned
        self._heap = [(self.due_at[i], i) for i in owned]
        heapq.heapify(self._heap)

    @property
    def owned(self) -> frozenset[int]:
        """The feeds this scheduler polls (all of them unless ``assign`` said otherwise)."""
        return frozenset(range(len(self._feeds)) if self._owned is None else self._owned)

    def owns(self, index: int) -> bool:
        return self._owned is None or index in self._owned

    def takeover_delay(self, index: int, since_last_poll: float | None, consecutive_errors: int) -> float:
        """When a feed taken over from another poller is due: one interval after its last poll
        (whoever made it), or soon, spread like a start, if it was never polled."""
        if since_last_poll is None:
            return self._rng.uniform(0, self._spread)
        interval = self.interval(self._feeds[index], consecutive_errors)
        return max(0.0, interval - since_last_poll)

    def _clamp(self, seconds: float) -> float:
        return min(max(seconds, self._settings.min_interval_s), self._settings.max_interval_s)

    def interval(self, feed: FeedConfig, consecutive_errors: int, factor: float = 1.0) -> float:
        s = self._settings
        base = (feed.interval or s.default_interval_s) * factor
        if consecutive_errors:
            # Retry soon, then back off: the minimum interval, doubled per failure in a row, and
            # never later than the feed's own interval doubled as often (then clamped to the maximum).
            exponent = min(consecutive_errors, MAX_BACKOFF_EXPONENT)
            base = min(s.min_interval_s * 2 ** (exponent - 1), base * 2**exponent)
        # Clamp, jitter, clamp again: never outside the bounds, yet feeds held at the maximum
        # still spread out instead of polling in step.
        jittered = self._clamp(base) * (1 + self._rng.uniform(-s.jitter, s.jitter))
        return self._clamp(jittered)

    def next_due_in(self, now: float) -> float | None:
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def due(self, now: float) -> list[tuple[int, FeedConfig]]:
        ready: list[tuple[int, FeedConfig]] = []
        while self._heap and self._heap[0][0] <= now:
            due, index = heapq.heappop(self._heap)
            if due == self.due_at[index] and self.owns(index):  # else a stale entry: rescheduled since
                ready.append((index, self._feeds[index]))
        return ready

    def done(
        self,
        index: int,
        consecutive_errors: int,
        now: float,
        *,
        backlog: bool = False,
        new_entries: int | None = None,
        hint_s: float | None = None,
        retry_after: float | None = None,
        gone: bool = False,
    ) -> float:
        """Schedule the feed's next poll after one that just ended; returns the delay chosen."""
        feed = self._feeds[index]
        if backlog:
            delay = self._settings.min_interval_s  # more new entries are waiting
        elif gone:
            delay = self._settings.max_interval_s
        else:
            if new_entries is not None and not consecutive_errors:
                moved = self._factor[index] * (BUSIER if new_entries else QUIETER)
                self._factor[index] = min(max(moved, FACTOR_MIN), FACTOR_MAX)
            delay = self.interval(feed, consecutive_errors, self._factor[index])
            asked = max(hint_s or 0.0, retry_after or 0.0)
            if asked > delay:
                delay = self._clamp(asked)
        self.due_at[index] = due = now + delay
        if self.owns(index):  # a feed given to another poller meanwhile is that poller's to schedule
            heapq.heappush(self._heap, (due, index))
        return delay
