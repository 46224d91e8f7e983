"""Throughput of the workers' fleet with 1 and with 2 worker processes (role worker).

    python bench/scale.py CORPUS_DIR [--articles 2000] [--runs 3]

CORPUS_DIR is any folder of HTML pages, as for bench/pipeline.py (e.g. the AEB corpus); the pages are
served from a loopback site (its own process) as ``--articles`` distinct URLs. For each run and each
fleet size, a fresh links topic is filled with one link per URL (what pollers would publish), then
that many ``ingest run --role worker`` processes are started, each with one extraction process
(``pipeline.workers: 1``), sharing a Kafka-protocol broker and a ``redis-server`` state. They fetch,
extract, normalise, dedup (near-duplicates linked across workers) and publish every article.

Throughput is taken between 10% and 90% of the links done (published, or dropped as a copy of a
page already published: the corpus repeats its pages), so process start and the group join are left
out, from the workers' own ``ingest_entries_processed_total`` counters. Also printed:
CPU milliseconds per article of the workers' process trees. The figure is the median of ``--runs``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from kafka import KafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import serve  # noqa: E402
from bench.poll import cpu_seconds, scrape  # noqa: E402
from ingest.config import KafkaSettings  # noqa: E402
from ingest.kafka.admin import ensure_topics  # noqa: E402
from ingest.kafka.embedded import EmbeddedBroker, free_port  # noqa: E402
from ingest.source.entries import entry_for_link  # noqa: E402
from ingest.source.links import encode_link, link_key  # noqa: E402
from tests.support.redis import running_redis  # noqa: E402

PARTITIONS = 6
# Links carried to their end: published, or dropped as a copy (fetched and extracted all the same).
DONE = (
    'ingest_entries_processed_total{outcome="published"}',
    'ingest_entries_processed_total{outcome="dropped"}',
)


def fill_links(bootstrap: str, topic: str, site_port: int, articles: int) -> None:
    ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), bootstrap, {topic: PARTITIONS})
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    now = datetime.now(UTC)
    feed = f"http://127.0.0.1:{site_port}/feed/0.xml"
    futures = []
    for n in range(articles):
        url = f"http://127.0.0.1:{site_port}/a/{n}.html"
        entry = replace(
            entry_for_link(url, feed_url=feed, discovered_at=now),
            guid=f"story-{n}",
            title=f"Story {n}",
            published_at=now,
            feed_title="Bench",
        )
        futures.append(producer.send(topic, key=link_key(entry), value=encode_link(entry)))
    for future in futures:
        future.get(timeout=60)
    producer.close()


def worker_config(folder: Path, name: str, bootstrap: str, redis_url: str, suffix: str) -> tuple[Path, int]:
    port = free_port("127.0.0.1")
    config: dict[str, Any] = {
        "role": "worker",
        "kafka": {
            "bootstrap_servers": bootstrap,
            "topic": f"articles-{suffix}",
            "dlq_topic": f"articles-{suffix}.dlq",
            "links_topic": f"links-{suffix}",
            "partitions": PARTITIONS,
            "consumer": {
                "worker_group": f"workers-{suffix}",
                "max_poll_interval_ms": 3000,
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
                "revoke_wait_s": 2,
            },
        },
        "state": {"url": redis_url, "key_prefix": f"bench-{suffix}"},
        "http": {
            "allow_private_networks": ["127.0.0.1/32"],
            "max_connections_per_host": 64,
            "min_host_delay_s": 0,
            "robots_txt": False,
        },
        "metrics": {"port": port},
        "pipeline": {"workers": 1, "max_articles_in_flight": 32},
        "log": {"level": "WARNING", "format": "text"},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, port


@dataclass
class Run:
    workers: int
    rate: float  # articles per second, 10% to 90%
    cpu_ms: float  # per article, the workers' trees, whole run
    busy: float  # cores of the whole machine busy, 10% to 90% (workers, site, broker, Redis)


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_fleet(
    folder: Path, workers: int, bootstrap: str, redis_url: str, site_port: int, articles: int
) -> Run:
    suffix = uuid.uuid4().hex[:8]
    fill_links(bootstrap, f"links-{suffix}", site_port, articles)
    members = []
    for i in range(workers):
        config, port = worker_config(folder, f"worker-{suffix}-{i}", bootstrap, redis_url, suffix)
        with (folder / f"worker-{suffix}-{i}.log").open("w") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "ingest", "run", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        members.append((process, port))
    marks: list[tuple[float, float, float]] = []
    deadline = time.monotonic() + 1800
    try:
        while time.monotonic() < deadline:
            for process, _ in members:
                if process.poll() is not None:
                    raise SystemExit(f"a worker exited with {process.returncode}; see {folder}")
            try:
                done = sum(scrape(port).get(name, 0.0) for _, port in members for name in DONE)
            except OSError:  # not listening yet
                done = 0.0
            marks.append((time.monotonic(), done, machine_busy_s()))
            if done >= articles:
                break
            time.sleep(0.25)
        cpu = sum(cpu_seconds(process.pid) for process, _ in members)
    finally:
        for process, _ in members:
            process.send_signal(signal.SIGTERM)
        for process, _ in members:
            process.wait(60)
    start = next(m for m in marks if m[1] >= 0.1 * articles)
    end = next(m for m in marks if m[1] >= 0.9 * articles)
    seconds = end[0] - start[0]
    return Run(workers, (end[1] - start[1]) / seconds, 1000 * cpu / articles, (end[2] - start[2]) / seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        broker = EmbeddedBroker("127.0.0.1", 0)
        bootstrap = broker.start()
        redis_url = stack.enter_context(running_redis(folder))
        served = serve(args.corpus, args.articles)
        results: dict[int, list[Run]] = {1: [], 2: []}
        try:
            for run in range(args.runs):
                for workers in (1, 2):
                    result = run_fleet(folder, workers, bootstrap, redis_url, served.port, args.articles)
                    results[workers].append(result)
                    print(
                        f"run {run + 1}: {workers} worker(s): {result.rate:.1f} articles/s, "
                        f"{result.cpu_ms:.1f} ms CPU per article, machine busy {result.busy:.2f} cores",
                        flush=True,
                    )
        finally:
            served.stop()
            broker.stop()
    one = statistics.median(r.rate for r in results[1])
    two = statistics.median(r.rate for r in results[2])
    print(f"cores: {len(os.sched_getaffinity(0))}; articles per run: {args.articles}")
    for count, rate in ((1, one), (2, two)):
        busy = statistics.median(r.busy for r in results[count])
        print(
            f"{count} worker(s): {rate:.1f} articles/s, machine busy {busy:.2f} cores"
            f" (medians of {args.runs})"
        )
    print(f"scaling 1 -> 2: {two / one:.2f}x")


if __name__ == "__main__":
    main()
