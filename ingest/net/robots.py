"""robots.txt for article fetches (RFC 9309), with the non-standard Crawl-delay.

Rules: the groups naming our product token (the User-Agent up to its first ``/``), else the ``*``
groups, combined; the longest matching pattern wins, ``allow`` on a tie; ``*`` and a final ``$`` in
patterns. Fetching: per origin, cached for a day; a 4xx answer means no restrictions; a 5xx or an
unreachable server means complete disallow until it answers again, unless an earlier copy is still
cached. Only the first 500 KiB are read. A Crawl-delay (capped) paces every request to that host.

Feeds are not subject to robots.txt: an operator listed them, and feeds exist to be polled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from yarl import URL

from ingest.errors import Disallowed, PermanentError, TransientError
from ingest.metrics import Metrics
from ingest.net.hosts import HostGate

log = logging.getLogger(__name__)

MAX_BYTES = 500 * 1024
FRESH_S = 24 * 3600.0  # a fetched robots.txt is used this long
UNREACHABLE_RETRY_S = 15 * 60.0  # an unreachable one is asked for again after this
_MAX_RULES = 10_000


@dataclass(frozen=True, slots=True)
class _Rule:
    allow: bool
    pattern: str  # percent-decoded; '*' wildcards, a final '$' anchors the end

    def matches(self, path: str) -> bool:
        return _glob(self.pattern, path)


@dataclass(frozen=True, slots=True)
class RobotsRules:
    rules: tuple[_Rule, ...] = ()
    crawl_delay: float | None = None
    disallow_all: bool = False

    def allowed(self, path: str) -> bool:
        """Whether ``path`` (path and query of a URL) may be fetched."""
        if self.disallow_all:
            return False
        path = unquote(path or "/")
        if path == "/robots.txt":
            return True
        best: _Rule | None = None
        for rule in self.rules:
            if rule.matches(path) and (
                best is None
                or len(rule.pattern) > len(best.pattern)
                or (len(rule.pattern) == len(best.pattern) and rule.allow)
            ):
                best = rule
        return best is None or best.allow


ALLOW_ALL = RobotsRules()
DISALLOW_ALL = RobotsRules(disallow_all=True)


def product_token(user_agent: str) -> str:
    """``ingest/1.0 (+https://...)`` → ``ingest``."""
    return user_agent.strip().split("/", 1)[0].split(" ", 1)[0].lower() or "*"


def parse_robots(text: str, token: str) -> RobotsRules:
    """The rules of ``text`` that apply to the crawler named ``token``."""
    token = token.lower()
    ours: list[_Rule] = []
    anyone: list[_Rule] = []
    delay_ours: float | None = None
    delay_any: float | None = None
    matched_ours = False
    agents: list[str] = []
    in_rules = False
    for line in _lines(text):
        key, value = line
        if key == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.split("/", 1)[0].strip().lower())
            continue
        if key not in ("allow", "disallow", "crawl-delay") or not agents:
            continue
        in_rules = True
        mine, star = token in agents, "*" in agents
        matched_ours = matched_ours or mine
        if key == "crawl-delay":
            seconds = _seconds(value)
            if mine and seconds is not None:
                delay_ours = seconds
            if star and seconds is not None:
                delay_any = seconds
            continue
        if not value:  # "Disallow:" with no path restricts nothing
            continue
        rule = _Rule(key == "allow", unquote(value))
        if mine and len(ours) < _MAX_RULES:
            ours.append(rule)
        if star and len(anyone) < _MAX_RULES:
            anyone.append(rule)
    if matched_ours:
        return RobotsRules(tuple(ours), delay_ours)
    return RobotsRules(tuple(anyone), delay_any)


def _lines(text: str) -> Iterable[tuple[str, str]]:
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition(":")
        if sep:
            yield key.strip().lower(), value.strip()


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def _glob(pattern: str, path: str) -> bool:
    """Prefix match with ``*`` wildcards and an optional final ``$``; linear in practice, never
    backtracking more than to the last ``*`` (a hostile pattern cannot make it explode)."""
    anchored = pattern.endswith("$")
    if anchored:
        pattern = pattern[:-1]
    p = s = 0
    star = -1
    mark = 0
    while s < len(path):
        if p == len(pattern) and not anchored:
            return True
        if p < len(pattern) and pattern[p] == "*":
            star, mark = p, s
            p += 1
        elif p < len(pattern) and pattern[p] == path[s]:
            p += 1
            s += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            s = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


class Fetch(Protocol):
    """What ``Robots`` needs of the HTTP client: the body of a URL, or an ``ingest.errors`` error."""

    async def __call__(self, url: str, max_bytes: int, /) -> bytes: ...


@dataclass(slots=True)
class _Cached:
    rules: RobotsRules
    until: float  # monotonic time after which it is fetched again
    good: bool  # from a real answer (200 or 4xx), not an unreachable server
    host: str  # whose Crawl-delay the gate holds while this is cached


class Robots:
    """The robots.txt of every origin an article is fetched from: one fetch per origin at a time,
    cached, at most ``capacity`` origins kept."""

    def __init__(
        self,
        fetch: Fetch,
        gate: HostGate,
        user_agent: str,
        metrics: Metrics,
        capacity: int = 10_000,
    ) -> None:
        self._fetch = fetch
        self._gate = gate
        self._token = product_token(user_agent)
        self._metrics = metrics
        self._capacity = capacity
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._pending: dict[str, asyncio.Future[RobotsRules]] = {}

    async def check(self, url: URL) -> None:
        """Raise ``Disallowed`` when robots.txt forbids ``url`` to us."""
        rules = await self.rules_for(url)
        if not rules.allowed(url.raw_path_qs):
            raise Disallowed("robots.txt disallows this page", url=str(url))

    async def rules_for(self, url: URL) -> RobotsRules:
        origin = f"{url.scheme}://{url.raw_authority}".lower()
        cached = self._cache.get(origin)
        if cached is not None and cached.until > time.monotonic():
            self._cache.move_to_end(origin)
            return cached.rules
        pending = self._pending.get(origin)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[RobotsRules] = asyncio.get_running_loop().create_future()
        self._pending[origin] = future
        try:
            rules = await self._load(origin, url.host or "", cached)
            future.set_result(rules)
            return rules
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs it
            raise
        finally:
            del self._pending[origin]

    async def _load(self, origin: str, host: str, previous: _Cached | None) -> RobotsRules:
        now = time.monotonic()
        try:
            body = await self._fetch(origin + "/robots.txt", MAX_BYTES)
        except TransientError as exc:
            self._metrics.robots_fetches.labels("unreachable").inc()
            if previous is not None and previous.good:
                log.info("robots.txt of %s unreachable (%s); keeping the copy we have", origin, exc)
                self._store(origin, _Cached(previous.rules, now + UNREACHABLE_RETRY_S, True, host))
                return previous.rules
            log.info("robots.txt of %s unreachable (%s): not fetching its pages for now", origin, exc)
            self._store(origin, _Cached(DISALLOW_ALL, now + UNREACHABLE_RETRY_S, False, host))
            return DISALLOW_ALL
        except PermanentError as exc:  # 4xx, too large, a redirect loop: no usable rules
            self._metrics.robots_fetches.labels("unavailable").inc()
            log.debug("robots.txt of %s unavailable (%s): no restrictions", origin, exc)
            rules = ALLOW_ALL
        else:
            self._metrics.robots_fetches.labels("fetched").inc()
            rules = parse_robots(body.decode("utf-8", errors="replace"), self._token)
        self._gate.set_delay(host, rules.crawl_delay)
        if rules.crawl_delay:
            log.info("%s asks for %s s between requests", origin, rules.crawl_delay)
        self._store(origin, _Cached(rules, now + FRESH_S, True, host))
        return rules

    def _store(self, origin: str, cached: _Cached) -> None:
        self._cache[origin] = cached
        self._cache.move_to_end(origin)
        while len(self._cache) > self._capacity:
            _, evicted = self._cache.popitem(last=False)
            self._gate.set_delay(evicted.host, None)  # its Crawl-delay goes with it

    def __len__(self) -> int:
        return len(self._cache)
