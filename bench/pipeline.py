"""End-to-end throughput of the whole pipeline against the extraction ceiling and a peer.

    python bench/pipeline.py CORPUS_DIR [--articles 3000] [--runs 3] [--steady-seconds 60]

CORPUS_DIR is any folder of HTML pages (``*.html``, ``*.htm``, ``*.html.gz``, searched recursively),
e.g. the AEB corpus. The pages are served from a loopback site (its own process), repeated to
``--articles`` distinct URLs; each copy gets its own sentence in its first paragraph, so copies are
distinct texts. Feeds of 50 entries list them all. Then, on the same pages and cores:

1. **pipeline, saturated**: the real service (its own process and worker pool) polls the feeds and
   carries every entry through fetch, extract, normalise, dedup and publish into a Kafka-protocol
   broker. Articles/s from the first poll to the last entry done, CPU seconds per article (the
   service and its workers), peak RSS of the service process and PSS of its process tree.
2. **ceiling**: trafilatura alone (``extract(..., with_metadata=True)``, default settings) over the
   same pages in a process pool of one process per core.
3. **peer**: newspaper4k's ``Article.parse()`` over the same pages, same pool (``pip install -e
   ".[bench]"``; skipped if absent).
4. **steady state**: the feeds release entries at about half the saturated rate for
   ``--steady-seconds``; latency from discovery (``discovered_at``) to the Kafka record (its
   timestamp, set at send) p50/p99, and the service's memory at the start and end of the run.

Figures 1-3 are medians of ``--runs`` runs. Prints the machine's core count and the ratios.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.poll import cpu_seconds, loopback_config, memory_kb, scrape, start_service  # noqa: E402
from ingest.kafka.embedded import EmbeddedBroker, free_port  # noqa: E402

PER_FEED = 50
WORKERS = int(os.environ.get("BENCH_WORKERS", "0"))  # 0: the service's default
MARKER = b"<p"


def load_corpus(folder: Path) -> list[bytes]:
    pages = []
    for path in sorted(folder.rglob("*")):
        name = path.name.lower()
        if name.endswith(".html.gz"):
            pages.append(gzip.decompress(path.read_bytes()))
        elif name.endswith((".html", ".htm")):
            pages.append(path.read_bytes())
    if not pages:
        raise SystemExit(f"no *.html, *.htm or *.html.gz pages under {folder}")
    return pages


def copy_of(page: bytes, copy: int) -> bytes:
    """The page with a sentence of its own at the start of its first paragraph."""
    at = page.find(MARKER)
    if at < 0:
        return page
    end = page.find(b">", at)
    if end < 0:
        return page
    line = f" This is copy number {copy} of the story.".encode()
    return page[: end + 1] + line + page[end + 1 :]


# -- the loopback site ------------------------------------------------------------------------------


def site(port: int, corpus: str, articles: int, release_rate: float, ready: Any) -> None:
    """Feeds ``/feed/{f}.xml`` of PER_FEED entries and pages ``/a/{n}.html`` (n < articles). With a
    release rate, entry n appears at start + n / rate (the feeds then show what has been released)."""
    pages = load_corpus(Path(corpus))
    base = f"http://127.0.0.1:{port}"
    started = time.time()

    def released() -> int:
        if release_rate <= 0:
            return articles
        return min(articles, int((time.time() - started) * release_rate))

    async def feed(request: web.Request) -> web.Response:
        f = int(request.match_info["f"])
        first, last = f * PER_FEED, min(articles, (f + 1) * PER_FEED, released())
        items = "".join(
            f"<item><title>Story {n}</title><link>{base}/a/{n}.html</link>"
            f"<guid isPermaLink='false'>story-{n}</guid></item>"
            for n in range(last - 1, first - 1, -1)
        )
        body = (
            "<?xml version='1.0'?><rss version='2.0'><channel><title>Bench</title>"
            f"<link>{base}/</link>{items}</channel></rss>"
        )
        return web.Response(text=body, content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        body = copy_of(pages[n % len(pages)], n // len(pages))
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/feed/{f}.xml", feed)
    app.router.add_get("/a/{n}.html", page)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@dataclass
class Served:
    port: int
    process: multiprocessing.Process

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


def serve(corpus: Path, articles: int, release_rate: float = 0.0) -> Served:
    port = free_port("127.0.0.1")
    ready = multiprocessing.Event()
    process = multiprocessing.Process(
        target=site, args=(port, str(corpus), articles, release_rate, ready), daemon=True
    )
    process.start()
    ready.wait(60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/feed/0.xml", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    return Served(port, process)


# -- the service ------------------------------------------------------------------------------------


@dataclass
class RunResult:
    articles: int
    seconds: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    latencies: list[float]
    first_mb: float = 0.0
    last_mb: float = 0.0

    @property
    def rate(self) -> float:
        return self.articles / self.seconds


def run_service(
    corpus: Path, articles: int, work: Path, bootstrap: str, *, release_rate: float = 0.0, seconds: float = 0
) -> RunResult:
    served = serve(corpus, articles, release_rate)
    feeds = -(-articles // PER_FEED)
    status_port = free_port("127.0.0.1")
    topic = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    interval = 1.0 if release_rate else 3600.0
    config = {
        **loopback_config(served.port, feeds, work / (topic + ".db"), status_port),
        "kafka": {
            "bootstrap_servers": bootstrap,
            "topic": topic,
            "dlq_topic": topic + ".dlq",
            "partitions": 3,
        },
        "scheduler": {
            "default_interval_s": interval,
            "min_interval_s": interval,
            "max_interval_s": interval,
            "jitter": 0,
        },
        "log": {"level": "WARNING"},
        **({"pipeline": {"workers": WORKERS}} if WORKERS else {}),
    }
    path = work / f"{topic}.yaml"
    path.write_text(yaml.safe_dump(config))
    service = start_service(path, work / f"{topic}.log")
    peak_rss = peak_pss = 0
    samples: list[int] = []
    try:
        _wait_ready(status_port, service, work / f"{topic}.log")
        cpu_start = cpu_seconds(service.pid)
        started = time.monotonic()
        done = 0.0
        limit = started + (seconds + 120 if seconds else 1800)
        while time.monotonic() < limit:
            rss, pss = memory_kb(service.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            samples.append(pss)
            done = _processed(scrape(status_port))
            if seconds and time.monotonic() - started >= seconds:
                break
            if not seconds and done >= articles:
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        cpu_s = cpu_seconds(service.pid) - cpu_start
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)
        served.stop()
    latencies = _latencies(bootstrap, topic)
    quarter = max(1, len(samples) // 4)
    return RunResult(
        int(done),
        elapsed,
        cpu_s,
        peak_rss / 1024,
        peak_pss / 1024,
        latencies,
        statistics.mean(samples[:quarter]) / 1024 if samples else 0.0,
        statistics.mean(samples[-quarter:]) / 1024 if samples else 0.0,
    )


def _wait_ready(port: int, service: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise SystemExit(f"service exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("service never became ready")


def _processed(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("ingest_entries_processed_total{"))


def _latencies(bootstrap: str, topic: str) -> list[float]:
    """Seconds from each article's discovery to its record's timestamp (set when it was sent)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found: list[float] = []
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 2.0:
            batch = consumer.poll(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    article = json.loads(record.value)
                    discovered = _timestamp(article["discovered_at"])
                    found.append(record.timestamp / 1000 - discovered)
                idle_since = time.monotonic()
        return found
    finally:
        consumer.close()


def _timestamp(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# -- the ceiling and the peer -----------------------------------------------------------------------


def _trafilatura(page: bytes) -> int:
    import trafilatura

    result = trafilatura.extract(
        page, url="https://bench.example/a", with_metadata=True, output_format="json"
    )
    return len(result or "")


def _newspaper(page: bytes) -> int:
    from newspaper import Article

    article = Article("https://bench.example/a", language="en", fetch_images=False)
    article.download(input_html=page.decode("utf-8", errors="replace"))
    article.parse()
    return len(article.text)


def _warm(name: str) -> None:
    __import__(name)


def pool_rate(fn: Callable[[bytes], int], pages: list[bytes], module: str) -> float:
    """Pages per second of ``fn`` over ``pages`` in a pool of one process per core."""
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("forkserver")) as pool:
        list(pool.map(_warm, [module] * cores))
        list(pool.map(fn, pages[:cores]))  # imports and first-call costs out of the measurement
        started = time.monotonic()
        list(pool.map(fn, pages, chunksize=4))
        return len(pages) / (time.monotonic() - started)


def has_newspaper() -> bool:
    try:
        import newspaper  # noqa: F401
    except ImportError:
        return False
    return True


# -- main -------------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steady-seconds", type=float, default=60.0)
    args = parser.parse_args()
    pages = load_corpus(args.corpus)
    copies = [copy_of(pages[n % len(pages)], n // len(pages)) for n in range(args.articles)]
    cores = os.cpu_count() or 1
    print(f"corpus: {len(pages)} pages from {args.corpus}, served as {args.articles} articles; {cores} cores")

    work = Path(tempfile.mkdtemp(prefix="ingest-pipeline-"))
    broker = EmbeddedBroker("127.0.0.1", 0)
    bootstrap = broker.start()
    try:
        runs = []
        for i in range(args.runs):
            result = run_service(args.corpus, args.articles, work, bootstrap)
            runs.append(result)
            print(
                f"  pipeline run {i + 1}: {result.articles} articles in {result.seconds:.1f} s, "
                f"{result.rate:.1f}/s, {1000 * result.cpu_s / max(result.articles, 1):.1f} ms CPU each, "
                f"peak RSS {result.peak_rss_mb:.0f} MB, PSS {result.peak_pss_mb:.0f} MB"
            )
        ceilings = []
        peers = []
        for i in range(args.runs):
            ceilings.append(pool_rate(_trafilatura, copies, "trafilatura"))
            print(f"  ceiling run {i + 1}: trafilatura {ceilings[-1]:.1f} pages/s")
            if has_newspaper():
                peers.append(pool_rate(_newspaper, copies, "newspaper"))
                print(f"  peer run {i + 1}: newspaper4k {peers[-1]:.1f} pages/s")
        rate = statistics.median(r.rate for r in runs)
        ceiling = statistics.median(ceilings)
        half = rate / 2
        steady = run_service(
            args.corpus,
            int(half * args.steady_seconds) + 1,
            work,
            bootstrap,
            release_rate=half,
            seconds=args.steady_seconds,
        )
    finally:
        broker.stop()

    print()
    print(f"machine: {cores} cores; medians of {args.runs} runs")
    print(f"pipeline (saturated):   {rate:.1f} articles/s")
    cpu = statistics.median(1000 * r.cpu_s / max(r.articles, 1) for r in runs)
    print(f"CPU per article:        {cpu:.1f} ms (service and workers)")
    rss, pss = max(r.peak_rss_mb for r in runs), max(r.peak_pss_mb for r in runs)
    print(f"peak RSS / PSS:         {rss:.0f} MB (service) / {pss:.0f} MB (service and workers)")
    saturated = [x for r in runs for x in r.latencies]
    p50, p99 = quantile(saturated, 0.5), quantile(saturated, 0.99)
    print(f"discovery -> Kafka p50 / p99 (saturated): {p50:.2f} s / {p99:.2f} s")
    print(f"ceiling, trafilatura:   {ceiling:.1f} pages/s   pipeline / ceiling = {rate / ceiling:.2f}")
    if peers:
        peer = statistics.median(peers)
        print(f"peer, newspaper4k:      {peer:.1f} pages/s   pipeline / peer = {rate / peer:.2f}")
    else:
        print('peer, newspaper4k:      not installed (pip install -e ".[bench]")')
    p50, p99 = quantile(steady.latencies, 0.5), quantile(steady.latencies, 0.99)
    print(
        f"steady state at {half:.1f} articles/s for {args.steady_seconds:.0f} s: {steady.articles} articles, "
        f"discovery -> Kafka p50 {p50:.2f} s, p99 {p99:.2f} s; "
        f"PSS first quarter {steady.first_mb:.0f} MB, last quarter {steady.last_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
