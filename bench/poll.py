"""Feed-farm benchmark: thousands of loopback feeds polled by the real service.

    python bench/poll.py [--feeds 2000] [--interval 10] [--seconds 60] [--change 0.1] [--poll-only]

The farm (an aiohttp server in its own process) serves N feeds of 50 entries each. Most answer 304
(they send an ETag) or return the very same body (a third send no validators); on each poll a feed
changes with probability --change, gaining 1-2 new entries whose small pages the service then
fetches, extracts and publishes to a Kafka-protocol broker. The service runs as a process with the
given default interval, so the offered rate is feeds/interval polls per second. Prints polls/s, CPU
seconds per poll (the service and its workers), scheduling lag p50/p99 (from the service's own
histogram), the peak RSS of the service process and the peak PSS of it and its workers.

With ``--poll-only`` the entries the feeds gain are recorded as published beforehand: changed feeds
are still fetched and parsed in full, but no article is fetched or extracted, so the figures are the
polling engine's own (the article pipeline's cost is bench/pipeline.py's subject).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.kafka.embedded import EmbeddedBroker, free_port  # noqa: E402
from ingest.state import SqliteStateStore  # noqa: E402
from ingest.urls import canonicalize  # noqa: E402

ENTRIES = 50
POLL_ONLY_AHEAD = 100  # entries gained per feed that --poll-only records in advance (2 per change)


def farm(port: int, feeds: int, change: float, seed: int) -> None:
    rng = random.Random(seed)
    versions = [0] * feeds
    base = f"http://127.0.0.1:{port}"

    def feed_body(i: int) -> bytes:
        v = versions[i]
        newest = 2 * v + 50
        items = "".join(
            f"<item><title>Feed {i} story {n}</title><link>{base}/page/{i}/{n}.html</link>"
            f"<guid isPermaLink='false'>f{i}-{n}</guid>"
            f"<description>Story {n} of feed {i}.</description></item>"
            for n in range(newest, newest - ENTRIES, -1)
        )
        return (
            f"<?xml version='1.0'?><rss version='2.0'><channel><title>Feed {i}</title>"
            f"<link>{base}/</link>{items}</channel></rss>"
        ).encode()

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        if rng.random() < change:
            versions[i] += 1
        etag = f'"{versions[i]}"'
        validators = i % 3 != 0
        if validators and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"ETag": etag} if validators else {}
        return web.Response(body=feed_body(i), content_type="application/rss+xml", headers=headers)

    async def page(request: web.Request) -> web.Response:
        i, n = request.match_info["i"], request.match_info["n"]
        words = " ".join(f"word{(int(n) * 7 + k) % 997}" for k in range(120))
        body = (
            f"<html lang='en'><head><title>Feed {i} story {n}</title></head><body><article>"
            f"<h1>Feed {i} story {n}</h1><p>Feed {i} story {n} begins. {words}.</p>"
            f"<p>It ends here, story {n} of feed {i}.</p></article></body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/feed/{i}.xml", feed)
    app.router.add_get("/page/{i}/{n}.html", page)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def seed_state(path: Path, port: int, feeds: int, ahead: int = 0) -> None:
    """Record the entries the feeds hold at first as published, and ``ahead`` entries per feed that
    they will gain (``--poll-only``: then no new entry needs an article)."""
    store = SqliteStateStore(str(path))
    for i in range(feeds):
        numbers = range(1, ENTRIES + 1 + ahead)
        keys = [canonicalize(f"http://127.0.0.1:{port}/page/{i}/{n}.html") for n in numbers]
        await store.record(keys, f"seed-{i}", None)
    await store.close()


def _children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (a pool may be started from any thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS of ``pid`` alone, PSS of it and all its descendants) in kB. PSS shares each page among
    the processes that map it, so forked workers are not counted twice; it is what the tree costs."""
    try:
        rss = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        pss = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            if line.startswith("Pss:")
        )
        children = _children(pid)
    except (OSError, StopIteration):
        return 0, 0
    return rss, pss + sum(memory_kb(c)[1] for c in children)


def cpu_seconds(pid: int, own_children: bool = True) -> float:
    """CPU time of a process, its reaped children, and its live descendants."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = _children(pid)
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(c) for c in children)


def loopback_config(port: int, feeds: int, state: Path, status_port: int) -> dict[str, Any]:
    """The service's configuration for a benchmark site on loopback: ``feeds`` feeds at
    ``/feed/N.xml``, a state file, the status port. Callers add ``kafka`` and ``scheduler``."""
    return {
        "feeds": [f"http://127.0.0.1:{port}/feed/{i}.xml" for i in range(feeds)],
        "state": {"url": f"sqlite:///{state}"},
        # Every feed and page is on one loopback host: per-host politeness would measure itself.
        "http": {
            "allow_private_networks": ["127.0.0.1/32"],
            "max_connections_per_host": 64,
            "min_host_delay_s": 0,
        },
        "metrics": {"port": status_port},
    }


def start_service(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``ingest run`` with ``config`` as a process of its own, stderr to ``log``, no INGEST_ env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    with log.open("w") as err:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def quantile(values: dict[str, float], q: float, since: dict[str, float]) -> float:
    """Upper bound of the histogram bucket holding quantile ``q`` of the lags observed since ``since``."""
    buckets = sorted(
        (float(k.split('le="')[1].split('"')[0]), v - since.get(k, 0.0))
        for k, v in values.items()
        if k.startswith("ingest_feed_poll_lag_seconds_bucket")
    )
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= q * total:
            return bound
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--change", type=float, default=0.1)
    parser.add_argument("--no-seed", action="store_true", help="cold start: feeds' entries are all new")
    parser.add_argument(
        "--poll-only",
        action="store_true",
        help="the entries feeds gain are already known: the polling engine alone, no article work",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ingest-poll-"))
    port = free_port("127.0.0.1")
    server = multiprocessing.Process(target=farm, args=(port, args.feeds, args.change, 1), daemon=True)
    server.start()
    broker = EmbeddedBroker("127.0.0.1", 0)
    bootstrap = broker.start()
    status_port = free_port("127.0.0.1")
    config = {
        **loopback_config(port, args.feeds, work / "state.db", status_port),
        "kafka": {"bootstrap_servers": bootstrap},
        "scheduler": {
            "default_interval_s": args.interval,
            "min_interval_s": args.interval / 2,
            "max_interval_s": args.interval * 2,
            "jitter": 0.1,
        },
        "pipeline": {"max_feeds_in_flight": 64},
    }
    (work / "ingest.yaml").write_text(yaml.safe_dump(config))
    # Steady state, not a cold start: the entries the feeds hold at first are already published.
    if not args.no_seed:
        asyncio.run(seed_state(work / "state.db", port, args.feeds, POLL_ONLY_AHEAD if args.poll_only else 0))
    started = time.monotonic()
    service = start_service(work / "ingest.yaml", work / "service.log")
    warmup = min(2 * args.interval, 60.0)  # the first cycle polls every feed with its validators unknown
    peak_rss = peak_pss = 0
    ready_at: float | None = None
    first: dict[str, float] | None = None
    measuring = cpu_start = cpu_end = 0.0
    try:
        while time.monotonic() - started < warmup + args.seconds + 60:
            rss, pss = memory_kb(service.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            if ready_at is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/readyz", timeout=2) as r:
                        if r.status == 200:
                            ready_at = time.monotonic()
                except OSError:
                    pass
            elif first is None and time.monotonic() - ready_at >= warmup:
                first, measuring = scrape(status_port), time.monotonic()  # after the first cycle
                cpu_start = cpu_seconds(service.pid)
            elif first is not None and time.monotonic() - measuring >= args.seconds:
                break
            time.sleep(0.5)
        last = scrape(status_port)
        cpu_end = cpu_seconds(service.pid)
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)
        broker.stop()
        server.terminate()
    assert ready_at is not None, (work / "service.log").read_text()[-2000:]
    assert first is not None, "the run ended before the first cycle"
    cpu_s = cpu_end - cpu_start
    polls = sum(v for k, v in last.items() if k.startswith("ingest_feed_polls_total"))
    measured = polls - sum(v for k, v in first.items() if k.startswith("ingest_feed_polls_total"))
    published = sum(v for k, v in last.items() if k.startswith("ingest_articles_published_total"))
    published -= sum(v for k, v in first.items() if k.startswith("ingest_articles_published_total"))
    results = {
        r: last.get(f'ingest_feed_polls_total{{result="{r}"}}', 0)
        for r in ("not_modified", "unchanged", "modified", "error")
    }
    mix = f"interval {args.interval:g} s, change {args.change:.0%}"
    mix += ", polling alone (new entries already known)" if args.poll_only else ", with the article pipeline"
    print(f"feed farm: {args.feeds} feeds, {mix}, {os.cpu_count()} cores")
    print(f"start-up to ready:        {ready_at - started:.1f} s")
    print(
        f"polls since start:        {int(polls)} ({', '.join(f'{k} {int(v)}' for k, v in results.items())})"
    )
    print(f"polls/s (steady):         {measured / args.seconds:.1f}")
    print(f"articles published:       {int(published)} (in the measured window)")
    per_poll = cpu_s / max(measured, 1)
    print(f"CPU per poll (all):       {per_poll * 1000:.2f} ms  ->  {1 / per_poll:.0f} polls per CPU-second")
    p50, p99 = quantile(last, 0.5, first), quantile(last, 0.99, first)
    print(f"scheduling lag p50 / p99: {p50:g} s / {p99:g} s (bucket bounds)")
    print(f"peak RSS, service process: {peak_rss / 1024:.0f} MB")
    print(f"peak PSS, service + workers: {peak_pss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
