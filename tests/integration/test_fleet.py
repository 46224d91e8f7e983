"""The fleet: 2 pollers and 3 workers as processes on one broker and one Redis; one of each is killed
(SIGKILL) mid-run and replaced. Every article arrives, duplicates are counted, and no feed is polled
by two pollers within one interval."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

from ingest.config import KafkaSettings
from ingest.kafka.admin import ensure_topics
from ingest.source.entries import entry_for_link
from ingest.source.links import encode_link, link_key
from tests.support.corpus import article_html, feed_xml
from tests.support.fleet import Fleet
from tests.support.kafka import read_topic, wait_for_records
from tests.support.site import Site

FEEDS = 20
PER_FEED = 50  # 1,000 articles
INTERVAL_S = 3.0  # every feed's interval, exactly (no jitter, clamped)
GROW_S = 24.0  # the feeds list more of their articles over this long, so polls matter mid-run


def _serve(site: Site) -> list[str]:
    for f in range(FEEDS):
        for n in range(PER_FEED):
            site.routes[f"/f{f}/{n}.html"] = (
                200,
                {"Content-Type": "text/html; charset=utf-8"},
                article_html(n, seed=f + 1),
            )
    return [f"/f{f}/feed.rss" for f in range(FEEDS)]


def _grow(site: Site, stop: threading.Event) -> None:
    """Each feed lists its first 10 articles, then 2 more every GROW_S / 20 seconds, up to 50."""
    started = time.monotonic()
    while True:
        shown = min(PER_FEED, 10 + 2 * int((time.monotonic() - started) / (GROW_S / 20)))
        for f in range(FEEDS):
            body = feed_xml(site, range(shown), prefix=f"/f{f}")
            site.routes[f"/f{f}/feed.rss"] = (200, {"Content-Type": "application/rss+xml"}, body)
        if shown == PER_FEED or stop.wait(0.25):
            return


def _acknowledged(client: redis.Redis, prefix: str) -> int:
    """Articles the fleet has recorded as published so far (content hashes in the shared state)."""
    return sum(1 for _ in client.scan_iter(f"{prefix}:content:*", count=1000))


def _missing(site: Site, fleet: Fleet, records: list[Any]) -> str:
    on_topic = {yaml.safe_load(r.value)["url"] for r in records}
    expected = {site.url(f"/f{f}/{n}.html") for f in range(FEEDS) for n in range(PER_FEED)}
    missing = sorted(expected - on_topic)
    said = [
        f"{name}: {line}"
        for name in sorted(fleet.logs())
        for line in fleet.log(name).splitlines()
        if any(url.removeprefix(site.base) in line for url in missing[:5])
    ]
    return f"{len(missing)} articles not on the topic: {missing[:10]}\n" + "\n".join(said[-40:])


@pytest.fixture
def growing(site: Site) -> Iterator[list[str]]:
    paths = _serve(site)
    stop = threading.Event()
    grower = threading.Thread(target=_grow, args=(site, stop), daemon=True)
    grower.start()
    try:
        yield paths
    finally:
        stop.set()
        grower.join()


@pytest.mark.slow
def test_fleet_survives_a_killed_worker_and_poller(
    tmp_path: Path, broker: str, redis_url: str, site: Site, growing: list[str]
) -> None:
    site.page_delay_s = 0.01
    fleet = Fleet(
        tmp_path,
        broker,
        redis_url,
        [site.url(p) for p in growing],
        sections={
            "scheduler": {"default_interval_s": INTERVAL_S, "min_interval_s": INTERVAL_S, "jitter": 0},
            "pipeline": {"workers": 1, "max_articles_in_flight": 16},
        },
    )
    client = redis.Redis.from_url(redis_url)
    try:
        for name in ("poller-1", "poller-2"):
            fleet.start(name, "poller")
        for name in ("worker-1", "worker-2", "worker-3"):
            fleet.start(name, "worker")
        total = FEEDS * PER_FEED

        def wait_for(done: int, limit_s: float = 120) -> None:
            deadline = time.monotonic() + limit_s
            while _acknowledged(client, fleet.key_prefix) < done:
                for name, process in fleet.processes.items():
                    assert process.poll() is None, f"{name} exited:\n{fleet.log(name)[-3000:]}"
                assert time.monotonic() < deadline, f"stuck at {_acknowledged(client, fleet.key_prefix)}"
                time.sleep(0.1)

        wait_for(total // 5)
        fleet.kill("worker-1")
        fleet.start("worker-4", "worker")
        killed_worker_at = _acknowledged(client, fleet.key_prefix)
        wait_for(total * 2 // 5)
        fleet.kill("poller-1")
        fleet.start("poller-3", "poller")
        killed_poller_at = _acknowledged(client, fleet.key_prefix)
        assert killed_worker_at < killed_poller_at < total  # both kills landed mid-run

        try:
            wait_for_records(fleet.bootstrap, fleet.topic, total, limit_s=180)
        except AssertionError as late:  # say which articles, and what the members said of them
            raise AssertionError(_missing(site, fleet, read_topic(fleet.bootstrap, fleet.topic))) from late
    finally:
        codes = fleet.stop_all()
        client.close()
    assert all(code == 0 for code in codes.values()), {n: fleet.log(n)[-2000:] for n in codes}

    records = read_topic(fleet.bootstrap, fleet.topic)
    urls = Counter(yaml.safe_load(r.value)["url"] for r in records)
    expected = {site.url(f"/f{f}/{n}.html") for f in range(FEEDS) for n in range(PER_FEED)}
    assert set(urls) == expected  # every article, at least once
    keys = Counter(r.key for r in records)
    assert len(keys) == total  # a duplicate carries the same key: one id per URL
    duplicates = sum(urls.values()) - len(urls)
    print(f"\nfleet: {len(records)} messages for {total} articles, {duplicates} duplicates")
    assert duplicates <= 2 * 16  # at most what the killed worker had in flight, and its commits lag

    # No feed was polled by two pollers within one interval (each poller has its own User-Agent).
    polls: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for path, started, agent in zip(site.requests, site.started, site.agents, strict=True):
        if path.endswith("/feed.rss"):
            polls[path].append((started, agent))
    assert set(polls) == set(growing)
    handovers = 0
    for path, seen in polls.items():
        for (before, by), (after, then) in itertools.pairwise(seen):
            if by != then:
                handovers += 1
                assert after - before >= INTERVAL_S - 0.25, f"{path} polled by {by} then {then}"
    assert handovers > 0  # feeds did move between pollers


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.assigned = threading.Event()

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.assigned.set()


def _produce_links(bootstrap: str, topic: str, urls: list[str], feed_url: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for url in urls:
            entry = entry_for_link(url, feed_url=feed_url, discovered_at=datetime.now(UTC))
            producer.send(topic, key=link_key(entry), value=encode_link(entry))
        producer.flush()
    finally:
        producer.close()


def _committed(bootstrap: str, group: str, topic: str) -> int:
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return reader.committed(TopicPartition(topic, 0)) or 0
    finally:
        reader.close()


def test_a_worker_killed_after_a_rebalance_it_came_through_loses_no_link(
    tmp_path: Path, broker: str, redis_url: str, site: Site
) -> None:
    """A rebalance that leaves a worker its partition (the eager protocol revokes it, then assigns
    it back, the consumer keeping its position) must not let its commit pass the links it still has
    in hand: killed after that commit, it would lose them."""
    site.page_delay_s = 0.5  # two links at a time, so most of the first 30 wait in the worker's hand
    urls = [site.url(f"/r/{n}.html") for n in range(40)]
    for n in range(40):
        site.routes[f"/r/{n}.html"] = (200, {"Content-Type": "text/html"}, article_html(n, seed=7))
    fleet = Fleet(
        tmp_path,
        broker,
        redis_url,
        [],
        sections={"kafka": {"partitions": 1}, "pipeline": {"workers": 1, "max_articles_in_flight": 2}},
    )
    group = f"workers-{fleet.suffix}"
    ensure_topics(KafkaSettings(bootstrap_servers=broker), broker, {fleet.links_topic: 1})
    _produce_links(broker, fleet.links_topic, urls[:30], site.url("/feed.rss"))
    joiner: KafkaConsumer | None = None
    try:
        fleet.start("worker-1", "worker")
        wait_for_records(fleet.bootstrap, fleet.topic, 1, limit_s=120)  # it holds the partition, working
        joined = _Joined()
        joiner = KafkaConsumer(
            bootstrap_servers=broker,
            group_id=group,
            enable_auto_commit=False,
            max_poll_interval_ms=3000,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            partition_assignment_strategy=(StickyPartitionAssignor, RangePartitionAssignor),
        )
        joiner.subscribe([fleet.links_topic], listener=joined)
        deadline = time.monotonic() + 60
        while not joined.assigned.is_set():  # the rebalance is over: the worker kept its partition
            assert time.monotonic() < deadline, "the rebalance never completed"
            joiner.poll(timeout_ms=200)
        assert joiner.assignment() == set()
        joiner.close()
        joiner = None
        _produce_links(broker, fleet.links_topic, urls[30:], site.url("/feed.rss"))
        deadline = time.monotonic() + 120
        while _committed(broker, group, fleet.links_topic) < 30:
            assert time.monotonic() < deadline, "the worker never committed past the first links"
            time.sleep(0.1)
        fleet.kill("worker-1")  # at once: whatever its commit passed and it had not done is lost
        fleet.start("worker-2", "worker")
        try:
            wait_for_records(fleet.bootstrap, fleet.topic, len(urls), limit_s=180)
        except AssertionError as late:
            on_topic = {yaml.safe_load(r.value)["url"] for r in read_topic(fleet.bootstrap, fleet.topic)}
            raise AssertionError(f"lost: {sorted(set(urls) - on_topic)}") from late
    finally:
        if joiner is not None:
            joiner.close()
        fleet.stop_all()
