from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ingest import __version__
from ingest.metrics import METHODS, OUTCOMES, POLL_RESULTS, STAGES, WORKER_RESTARTS, Metrics
from ingest.state.base import FEED_HEALTH

README = Path(__file__).resolve().parents[2] / "README.md"

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
HIGH_CARDINALITY = {"url", "host", "feed", "feed_url", "domain", "id", "key"}


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def exposition(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_names_follow_prometheus_rules(metrics: Metrics) -> None:
    metrics.topics("news.articles")
    families = list(text_string_to_metric_families(exposition(metrics)))
    assert families
    for family in families:
        assert NAME.match(family.name), family.name
        assert family.name.startswith(("ingest_", "process_")), family.name  # process_*: the standard set
        for sample in family.samples:
            assert NAME.match(sample.name)
            for label in sample.labels:
                assert LABEL.match(label)
                assert not label.startswith("__")
                assert label not in HIGH_CARDINALITY


def test_every_counter_ends_in_total(metrics: Metrics) -> None:
    text = exposition(metrics)
    counters = re.findall(r"^# TYPE (\S+) counter$", text, re.MULTILINE)
    assert len(counters) >= 10
    assert all(name.endswith("_total") for name in counters), counters
    for family in metrics.registry.collect():
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples)
        else:
            assert not family.name.endswith("_total"), family.name


def test_durations_and_timestamps_are_in_seconds(metrics: Metrics) -> None:
    for family in metrics.registry.collect():
        if family.type == "histogram" or "timestamp" in family.name:
            assert family.name.endswith("_seconds"), family.name


def test_pre_initialised_series_are_exposed_at_zero(metrics: Metrics) -> None:
    for stage in STAGES:
        assert value(metrics, "ingest_stage_items_in_total", stage=stage) == 0
        assert value(metrics, "ingest_stage_items_out_total", stage=stage) == 0
        assert value(metrics, "ingest_stage_items_in_progress", stage=stage) == 0
        assert value(metrics, "ingest_stage_duration_seconds_count", stage=stage) == 0
    for result in POLL_RESULTS:
        assert value(metrics, "ingest_feed_polls_total", result=result) == 0
    for method in METHODS:
        assert value(metrics, "ingest_articles_published_total", method=method) == 0
    for outcome in OUTCOMES:
        assert value(metrics, "ingest_entries_processed_total", outcome=outcome) == 0
    dropped = (("claim", "already_seen"), ("claim", "duplicate_url"), ("dedup", "duplicate_content"))
    for stage, reason in dropped:
        assert value(metrics, "ingest_stage_items_dropped_total", stage=stage, reason=reason) == 0
    for reason in ("no_identity", "enclosure_only", "bad_entry"):
        assert value(metrics, "ingest_feed_entries_skipped_total", reason=reason) == 0


def test_topic_series_appear_once_the_topics_are_known(metrics: Metrics) -> None:
    assert value(metrics, "ingest_kafka_messages_total", topic="news.articles", result="acked") is None
    metrics.topics("news.articles", "news.articles.dlq")
    for topic in ("news.articles", "news.articles.dlq"):
        assert value(metrics, "ingest_kafka_messages_total", topic=topic, result="acked") == 0
        assert value(metrics, "ingest_kafka_messages_total", topic=topic, result="failed") == 0
        assert value(metrics, "ingest_kafka_publish_duration_seconds_count", topic=topic) == 0


def test_build_info(metrics: Metrics) -> None:
    assert f'version="{__version__}"' in exposition(metrics)


def test_series_count_what_happens(metrics: Metrics) -> None:
    metrics.stage_items_in.labels("fetch").inc()
    metrics.stage_errors.labels("fetch", "http_404").inc(2)
    metrics.stage_duration.labels("fetch").observe(0.2)
    assert value(metrics, "ingest_stage_items_in_total", stage="fetch") == 1
    assert value(metrics, "ingest_stage_errors_total", stage="fetch", reason="http_404") == 2
    assert value(metrics, "ingest_stage_duration_seconds_bucket", stage="fetch", le="0.25") == 1
    assert value(metrics, "ingest_stage_duration_seconds_bucket", stage="fetch", le="0.1") == 0


def test_registries_are_independent() -> None:
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    first.feed_entries.inc(3)
    assert value(first, "ingest_feed_entries_total") == 3
    assert value(second, "ingest_feed_entries_total") == 0


def test_one_registry_holds_one_set_of_metrics() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(registry)


def test_no_created_series(metrics: Metrics) -> None:
    metrics.stage_items_in.labels("poll").inc()
    assert "_created" not in exposition(metrics)


def test_every_metric_has_a_series_before_any_event(metrics: Metrics) -> None:
    """A panel or an alert over a metric with no series shows "No data", not 0."""
    metrics.topics("news.articles", "news.articles.dlq")
    metrics.group_topics("news.links", "news.feeds")
    for family in metrics.registry.collect():
        assert family.samples, family.name
    for health in FEED_HEALTH:
        assert value(metrics, "ingest_feeds", state=health) == 0
    for reason in WORKER_RESTARTS:
        assert value(metrics, "ingest_worker_restarts_total", reason=reason) == 0
    for stage in STAGES:
        assert value(metrics, "ingest_stage_errors_total", stage=stage, reason="internal") == 0
    assert value(metrics, "ingest_dead_letters_total", reason="no_content") == 0
    assert value(metrics, "ingest_partitions_assigned", topic="news.links") == 0
    assert value(metrics, "ingest_worker_cpu_seconds_total") == 0


def test_the_readme_lists_every_metric_and_only_those(metrics: Metrics) -> None:
    metrics.topics("news.articles")
    exported = set(re.findall(r"^# TYPE (ingest_\S+) ", exposition(metrics), re.MULTILINE))
    listed = {
        name
        for line in README.read_text().splitlines()
        if line.startswith("| `ingest_")
        for name in re.findall(r"`(ingest_[a-z_]+)`", line.split("|")[1])
    }
    assert exported - listed == set(), "not in the README's metrics table"
    assert listed - exported == set(), "in the README's table but not exported"


def _burn() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_for_cpu(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + 60
    while _cpu_of(pid) < seconds:
        assert time.monotonic() < deadline, "the worker stand-in used no CPU in 60 s"
        time.sleep(0.05)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_worker_cpu_never_goes_down_when_a_worker_is_replaced(metrics: Metrics) -> None:
    first, second = _burn(), None
    try:
        live = [first.pid]
        metrics.workers.pids = lambda: list(live)
        _wait_for_cpu(first.pid, 0.3)
        before = value(metrics, "ingest_worker_cpu_seconds_total")
        assert before is not None
        assert before >= 0.3
        first.kill()
        first.wait()
        second = _burn()  # the replacement starts from 0 s of CPU
        live[:] = [second.pid]
        after = value(metrics, "ingest_worker_cpu_seconds_total")
        assert after is not None
        assert after >= before
        _wait_for_cpu(second.pid, 0.1)
        later = value(metrics, "ingest_worker_cpu_seconds_total")
        assert later is not None
        assert later >= before + 0.1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
