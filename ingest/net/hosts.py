"""Politeness per host, shared by feed polls, article fetches and robots.txt requests.

Each host gets at most ``concurrency`` requests at once, and two requests to it start at least
``delay`` seconds apart: the configured minimum, or the host's own Crawl-delay when robots.txt asks
for more (capped). Hosts are keyed by lower-cased name without port: one server, one budget.

Waiting here is queueing, not request time: it does not count against the request's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

# Idle hosts are forgotten once their table grows past this many entries.
_SWEEP_AT = 4096


@dataclass(slots=True)
class _Host:
    slots: asyncio.Semaphore
    last_start: float = float("-inf")
    delay: float | None = None  # the host's own delay (Crawl-delay), when it asked for one
    users: int = 0  # holders and waiters: a host in use is never swept


class HostGate:
    def __init__(self, concurrency: int, min_delay_s: float, max_delay_s: float) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._concurrency = concurrency
        self._min_delay = min_delay_s
        self._max_delay = max(max_delay_s, min_delay_s)
        self._hosts: dict[str, _Host] = {}
        self._delays: dict[str, float] = {}

    def delay(self, host: str) -> float:
        """Seconds between request starts to ``host`` now."""
        own = self._delays.get(host.lower())
        return self._min_delay if own is None else max(self._min_delay, min(own, self._max_delay))

    def set_delay(self, host: str, seconds: float | None) -> None:
        """The host's own delay (robots.txt Crawl-delay), capped at the maximum; None clears it."""
        key = host.lower()
        if seconds is None or seconds <= 0:
            self._delays.pop(key, None)
        else:
            self._delays[key] = seconds

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's request slots, entered no sooner than its delay allows."""
        key = host.lower()
        entry = self._hosts.get(key)
        if entry is None:
            if len(self._hosts) >= _SWEEP_AT:
                self._sweep()
            entry = self._hosts[key] = _Host(asyncio.Semaphore(self._concurrency))
        entry.users += 1
        try:
            async with entry.slots:
                now = time.monotonic()
                # From the last start, with the delay known now (robots.txt may have just set it).
                start = max(now, entry.last_start + self.delay(key))
                entry.last_start = start
                if start > now:
                    await asyncio.sleep(start - now)
                yield
        finally:
            entry.users -= 1

    def _sweep(self) -> None:
        now = time.monotonic()
        idle = [k for k, h in self._hosts.items() if h.users == 0 and h.last_start + self.delay(k) <= now]
        for key in idle:
            del self._hosts[key]

    @property
    def hosts(self) -> int:
        """Hosts tracked now (in use, or idle and not yet swept)."""
        return len(self._hosts)
