"""robots.txt for article fetches (RFC 9309), with the non-standard Crawl-delay.

The rules are read by protego, a maintained RFC 9309 parser (the group naming our product token,
else ``*``; the longest match wins, ``allow`` on a tie; ``*`` and ``$`` in patterns). What is ours is
the fetching and the policy around it:

- per origin, one fetch at a time, cached for a day; only the first 500 KiB are read; parsing a
  fetched file runs where the caller says (the worker pool: a hostile file can cost seconds);
- a 4xx answer (or an unusable one: too large, a redirect loop) means no restrictions;
- a 5xx answer or an unreachable server means complete disallow while it lasts. An earlier good copy
  is kept meanwhile. Without one, the site's pages **wait** (``RobotsUnavailable``, a transient error:
  the entry is not recorded as done and comes back) for up to ``wait_s``; past that they are not
  fetched (``Disallowed``) and the feed's own text is published. robots.txt is asked for again every
  few minutes, so the pages are fetched as soon as it answers;
- a Crawl-delay (capped) paces every request to that host.

Feeds are not subject to robots.txt: an operator listed them, and feeds exist to be polled.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from protego import Protego
from yarl import URL

from ingest.errors import Disallowed, PermanentError, RobotsUnavailable, TransientError
from ingest.metrics import Metrics
from ingest.net.hosts import HostGate

log = logging.getLogger(__name__)

MAX_BYTES = 500 * 1024
FRESH_S = 24 * 3600.0  # a fetched robots.txt is used this long
UNREACHABLE_RETRY_S = 5 * 60.0  # an unreachable one is asked for again after this
# "User-agent: Ingest/2.0" names the product "ingest": versions are not part of the token.
_AGENT_VERSION = re.compile(r"^(\s*user-agent\s*:\s*[^/#\s]+)/[^\s#]*", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """The rules of one robots.txt for one product token."""

    parser: Protego | None = None
    token: str = "*"
    crawl_delay: float | None = None
    disallow_all: bool = False

    def allowed(self, path: str) -> bool:
        """Whether ``path`` (path and query of a URL) may be fetched."""
        if self.disallow_all:
            return False
        if self.parser is None:
            return True
        return bool(self.parser.can_fetch(path or "/", self.token))


ALLOW_ALL = RobotsRules()
DISALLOW_ALL = RobotsRules(disallow_all=True)


def product_token(user_agent: str) -> str:
    """``ingest/1.0 (+https://...)`` → ``ingest``."""
    return user_agent.strip().split("/", 1)[0].split(" ", 1)[0].lower() or "*"


def parse_robots(text: str, token: str) -> RobotsRules:
    """The rules of ``text`` that apply to the crawler named ``token``. A pure function: the
    service runs it in its worker pool."""
    parser = Protego.parse(_AGENT_VERSION.sub(r"\1", text))
    delay = parser.crawl_delay(token)
    usable = delay if delay is not None and 0 <= delay < float("inf") else None
    return RobotsRules(parser, token.lower(), usable)


Parse = Callable[[str, str], Awaitable[RobotsRules]]


async def parse_here(text: str, token: str) -> RobotsRules:
    return parse_robots(text, token)


class Fetch(Protocol):
    """What ``Robots`` needs of the HTTP client: the body of a URL, or an ``ingest.errors`` error."""

    async def __call__(self, url: str, max_bytes: int, /) -> bytes: ...


@dataclass(slots=True)
class _Cached:
    rules: RobotsRules
    until: float  # monotonic time after which it is fetched again
    host: str  # whose Crawl-delay the gate holds while this is cached
    down_since: float | None = None  # unreachable (and no good copy) since this monotonic time
    why: str = ""  # what the last fetch of an unreachable one said


class Robots:
    """The robots.txt of every origin an article is fetched from: one fetch per origin at a time,
    cached, at most ``capacity`` origins kept."""

    def __init__(
        self,
        fetch: Fetch,
        gate: HostGate,
        user_agent: str,
        metrics: Metrics,
        *,
        parse: Parse = parse_here,
        wait_s: float = 3600.0,
        capacity: int = 10_000,
    ) -> None:
        self._fetch = fetch
        self._gate = gate
        self._token = product_token(user_agent)
        self._metrics = metrics
        self._parse = parse
        self._wait_s = wait_s
        self._capacity = capacity
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._pending: dict[str, asyncio.Future[_Cached]] = {}

    async def check(self, url: URL) -> None:
        """Return when ``url`` may be fetched. Raises ``Disallowed`` when robots.txt forbids it (or
        has been unreachable for longer than the wait), ``RobotsUnavailable`` while it is
        unreachable and the page should wait for it."""
        cached = await self._entry(url)
        if cached.down_since is not None:
            down = time.monotonic() - cached.down_since
            origin = _origin(url)
            if down < self._wait_s:
                raise RobotsUnavailable(
                    f"robots.txt of {origin} unreachable ({cached.why}); the page waits for it "
                    f"(for {down:.0f} of at most {self._wait_s:.0f} s)",
                    url=str(url),
                )
            raise Disallowed(
                f"robots.txt of {origin} unreachable for over {self._wait_s:.0f} s ({cached.why}): "
                "the page is not fetched",
                url=str(url),
            )
        if not cached.rules.allowed(url.raw_path_qs):
            raise Disallowed("robots.txt disallows this page", url=str(url))

    async def rules_for(self, url: URL) -> RobotsRules:
        return (await self._entry(url)).rules

    async def _entry(self, url: URL) -> _Cached:
        origin = _origin(url)
        cached = self._cache.get(origin)
        if cached is not None and cached.until > time.monotonic():
            self._cache.move_to_end(origin)
            return cached
        pending = self._pending.get(origin)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Cached] = asyncio.get_running_loop().create_future()
        self._pending[origin] = future
        try:
            entry = await self._load(origin, url.host or "", cached)
            future.set_result(entry)
            return entry
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs it
            raise
        finally:
            del self._pending[origin]

    async def _load(self, origin: str, host: str, previous: _Cached | None) -> _Cached:
        now = time.monotonic()
        try:
            body = await self._fetch(origin + "/robots.txt", MAX_BYTES)
        except TransientError as exc:
            self._metrics.robots_fetches.labels("unreachable").inc()
            if previous is not None and previous.down_since is None:
                log.info("robots.txt of %s unreachable (%s); keeping the copy we have", origin, exc.reason)
                return self._store(origin, _Cached(previous.rules, now + UNREACHABLE_RETRY_S, host))
            down_since = previous.down_since if previous is not None else None
            if down_since is None:
                log.warning(
                    "robots.txt of %s unreachable (%s): its pages wait for it, up to %.0f s",
                    origin,
                    exc,
                    self._wait_s,
                )
            entry = _Cached(DISALLOW_ALL, now + UNREACHABLE_RETRY_S, host, down_since or now, exc.reason)
            return self._store(origin, entry)
        except PermanentError as exc:  # 4xx, too large, a redirect loop: no usable rules
            self._metrics.robots_fetches.labels("unavailable").inc()
            log.debug("robots.txt of %s unavailable (%s): no restrictions", origin, exc)
            rules = ALLOW_ALL
        else:
            self._metrics.robots_fetches.labels("fetched").inc()
            rules = await self._parse(body.decode("utf-8", errors="replace"), self._token)
        if previous is not None and previous.down_since is not None:
            log.info("robots.txt of %s answers again", origin)
        self._gate.set_delay(host, rules.crawl_delay)
        if rules.crawl_delay:
            log.info("%s asks for %s s between requests", origin, rules.crawl_delay)
        return self._store(origin, _Cached(rules, now + FRESH_S, host))

    def _store(self, origin: str, cached: _Cached) -> _Cached:
        self._cache[origin] = cached
        self._cache.move_to_end(origin)
        while len(self._cache) > self._capacity:
            _, evicted = self._cache.popitem(last=False)
            self._gate.set_delay(evicted.host, None)  # its Crawl-delay goes with it
        return cached

    def __len__(self) -> int:
        return len(self._cache)


def _origin(url: URL) -> str:
    return f"{url.scheme}://{url.raw_authority}".lower()
