"""Articles published over the last hour, per minute, from samples of the published total.

The status server samples the total every few seconds; ``per_minute`` and ``count`` answer for
windows that end now. A window reaching back before the first sample counts from the first sample
(the service's start); the status page says when the service has run for less than a window.
"""

from __future__ import annotations

import bisect
from collections import deque

HOUR_S = 3600.0
MINUTE_S = 60.0


class History:
    """Samples (monotonic seconds, published total) for the last ``keep_s`` seconds."""

    def __init__(self, keep_s: float = HOUR_S + MINUTE_S) -> None:
        self._keep_s = keep_s
        self._times: deque[float] = deque()
        self._totals: deque[int] = deque()

    def add(self, at: float, total: int) -> None:
        if self._times and at < self._times[-1]:
            return  # the clock is monotonic; a stale sample is ignored
        self._times.append(at)
        self._totals.append(total)
        # Keep one sample older than the horizon, so a window starting there has its baseline.
        while len(self._times) > 2 and at - self._times[1] >= self._keep_s:
            self._times.popleft()
            self._totals.popleft()

    def _total_at(self, moment: float) -> int | None:
        """The total as of ``moment``: the last sample at or before it; None before the first."""
        index = bisect.bisect_right(self._times, moment) - 1
        return self._totals[index] if index >= 0 else None

    def _added(self, start: float, end: float) -> int:
        """Articles published between ``start`` and ``end``, counted from the first sample when
        ``start`` is before it."""
        first, last = self._total_at(start), self._total_at(end)
        base = first if first is not None else self._totals[0]
        return max(0, (last if last is not None else base) - base)

    def count(self, now: float, window_s: float) -> int | None:
        """Articles published in the window ending at ``now`` (since the first sample, if later);
        None without two samples."""
        return self._added(now - window_s, now) if len(self._times) >= 2 else None

    def per_minute(self, now: float, minutes: int = 60) -> list[int | None]:
        """Articles published in each of the last ``minutes`` minutes, oldest first; None for a
        minute before the first sample."""
        return [
            self._added(end - MINUTE_S, end) if self._times and end > self._times[0] else None
            for end in (now - (i - 1) * MINUTE_S for i in range(minutes, 0, -1))
        ]
