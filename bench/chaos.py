"""Chaos run: many articles through the real service while the broker is paused and restarted and
the service is killed five times. Prints how many articles were lost (the target is 0) and the
duplicate rate.

    python bench/chaos.py [--articles 2000] [--feeds 20] [--kills 5] [--seed 1]

Everything runs on loopback: a generated news site, a Kafka-protocol broker, the service as a
process. A consumer reads the topic throughout; before the broker is killed the service is frozen
and the topic drained, so the broker's own in-memory storage cannot hide or fake a loss.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

from ingest.kafka.embedded import EmbeddedBroker  # noqa: E402
from tests.support.corpus import article_html, feed_xml  # noqa: E402
from tests.support.deploy import make_deploy  # noqa: E402
from tests.support.site import Site  # noqa: E402

LIMIT_S = 900


class Collector(threading.Thread):
    """Reads every partition of a topic from the start, again after each broker restart."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.values: list[bytes] = []
        self.keys: list[bytes] = []
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._paused = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            if self._paused.is_set():
                time.sleep(0.1)
                continue
            try:
                self._consume()
            except Exception:
                time.sleep(0.5)

    def _consume(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        try:
            partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                time.sleep(0.3)
                return
            assignment = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(assignment)
            consumer.seek_to_beginning(*assignment)
            while not self._stop_event.is_set() and not self._paused.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    with self._lock:
                        self.keys.extend(r.key for r in records)
                        self.values.extend(r.value for r in records)
        finally:
            consumer.close()

    def drain(self, idle_s: float = 2.0) -> None:
        """Wait until nothing new arrives for ``idle_s``, then stop reading (the broker will go)."""
        count, since = -1, time.monotonic()
        while time.monotonic() - since < idle_s:
            with self._lock:
                if len(self.keys) != count:
                    count, since = len(self.keys), time.monotonic()
            time.sleep(0.1)
        self._paused.set()
        time.sleep(0.5)

    def restart_reading(self) -> None:
        self._paused.clear()

    def urls(self) -> set[str]:
        import json

        with self._lock:
            return {json.loads(v)["url"] for v in self.values}

    def stop(self) -> None:
        self._stop_event.set()


def recorded(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM seen").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="ingest-chaos-"))
    broker = EmbeddedBroker("127.0.0.1", 0)
    bootstrap = broker.start()
    site = Site(root=work).start()
    site.page_delay_s = 0.01
    html = {"Content-Type": "text/html; charset=utf-8"}
    for n in range(args.articles):
        site.routes[f"/gen/{n}.html"] = (200, html, article_html(n, args.seed))
    per_feed = -(-args.articles // args.feeds)
    feeds = []
    for f in range(args.feeds):
        numbers = range(f * per_feed, min(args.articles, (f + 1) * per_feed))
        site.routes[f"/feeds/{f}.rss"] = (
            200,
            {"Content-Type": "application/rss+xml"},
            feed_xml(site, numbers),
        )
        feeds.append(f"/feeds/{f}.rss")
    deployment = make_deploy(work, bootstrap, site)(
        feeds,
        kafka={"delivery_timeout_s": 5, "connect_timeout_s": 3},
        scheduler={"min_interval_s": 1, "default_interval_s": 2, "jitter": 0.1},
        pipeline={"max_articles_in_flight": 32},
    )
    log = work / "service.log"
    collector = Collector(bootstrap, deployment.topic)
    collector.start()
    started = time.monotonic()
    events: list[str] = []
    process: subprocess.Popen[str] = deployment.start(log)
    db = work / "state" / "ingest.db"

    def at_fraction(fraction: float) -> None:
        while recorded(db) < fraction * args.articles and time.monotonic() - started < LIMIT_S:
            time.sleep(0.05)

    try:
        # The schedule: kills spread over the run, the broker paused once and restarted once.
        plan = sorted(rng.uniform(0.05, 0.9) for _ in range(args.kills))
        pause_at, restart_at = sorted(rng.sample([p + 0.02 for p in plan], 2))
        for fraction in sorted({*plan, pause_at, restart_at}):
            at_fraction(fraction)
            done = recorded(db)
            if fraction in plan:
                process.send_signal(signal.SIGKILL)
                process.wait()
                events.append(f"service killed at {done} acknowledged")
                process = deployment.start(log)
            if fraction == pause_at:
                assert broker.pid is not None
                os.kill(broker.pid, signal.SIGSTOP)
                time.sleep(8)  # longer than the delivery timeout
                os.kill(broker.pid, signal.SIGCONT)
                events.append(f"broker paused 8 s at {done} acknowledged")
            if fraction == restart_at:
                process.send_signal(signal.SIGSTOP)  # freeze the producer, then read all it wrote
                collector.drain()
                broker.stop()
                time.sleep(2)
                broker = EmbeddedBroker("127.0.0.1", broker.port)
                broker.start()
                admin = KafkaAdminClient(bootstrap_servers=bootstrap)
                admin.create_topics([NewTopic(t, 3, 1) for t in (deployment.topic, deployment.dlq_topic)])
                admin.close()
                collector.restart_reading()
                process.send_signal(signal.SIGCONT)
                events.append(f"broker killed and restarted at {done} acknowledged")
        expected = {f"{site.base}/gen/{n}.html" for n in range(args.articles)}
        while time.monotonic() - started < LIMIT_S and not expected <= collector.urls():
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        collector.drain()
        collector.stop()
        broker.stop()
        site.stop()
    keys: Counter[Any] = Counter(collector.keys)
    delivered = collector.urls()
    lost = len(expected - delivered)
    duplicates = sum(keys.values()) - len(keys)
    print(f"chaos run: {args.articles} articles in {args.feeds} feeds, {elapsed:.1f} s")
    for event in events:
        print(f"  {event}")
    print(f"articles delivered: {len(delivered & expected)} / {args.articles}")
    print(f"articles lost:      {lost}")
    print(f"messages on topic:  {sum(keys.values())} ({len(keys)} distinct keys)")
    print(f"duplicates:         {duplicates} ({duplicates / max(1, len(keys)):.2%})")
    print(f"service exit code after SIGTERM: {process.returncode}")
    print(f"work folder (log, state): {work}")
    raise SystemExit(1 if lost else 0)


if __name__ == "__main__":
    main()
