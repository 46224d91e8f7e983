"""Every Prometheus metric of the service, declared once, on an injectable registry.

Naming follows Prometheus' rules: prefix ``ingest_``, counters end in ``_total``, durations in
``_seconds``. Labels have few values (stage, result, reason, error, topic, method); never a URL, host or
feed id. Every metric has at least one series from the start (known label combinations at 0), so
dashboards and alert rules never see an absent one; no ``_created`` series are exported.
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingest import __version__, build
from ingest.archive.records import SKIP_REASONS
from ingest.models import Method
from ingest.state.base import FEED_HEALTH

# A ``_created`` series beside every counter and histogram doubles the series count for a value no
# dashboard reads.
disable_created_metrics()  # type: ignore[no-untyped-call]

STAGES = ("poll", "parse", "claim", "link", "fetch", "replay", "extract", "dedup", "publish")
POLL_RESULTS = ("modified", "not_modified", "unchanged", "error")
PUBLISH_RESULTS = ("acked", "failed")
METHODS: tuple[str, ...] = get_args(Method)
OUTCOMES = ("published", "dropped", "dead_lettered", "deferred", "queued")
ROBOTS_RESULTS = ("fetched", "unavailable", "unreachable")
SKIPPED_ENTRIES = ("no_identity", "enclosure_only", "bad_entry")
WORKER_RESTARTS = ("timeout", "memory", "crashed", "recycled")
# What a backfill made of an archive's records: a page for the article chain, or why not.
ARCHIVE_RECORDS = ("page", *SKIP_REASONS, "bad_url")
ARCHIVE_RESULTS = ("finished", "failed", "already_read")
# Reasons shown at 0 from the start (the rest appear with their first event): an untranslated
# exception can happen in any stage; a page without text is the commonest dead letter.
_FIRST_ERRORS = ("internal",)
_FIRST_DEAD_LETTERS = ("no_content", "internal")
_FIRST_POLL_ERRORS = ("timeout", "connection", "http_5xx", "parse_error")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_FRESHNESS_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400, 259200, 604800)


class Metrics:
    """The service's metrics. Tests build one on their own ``CollectorRegistry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build_info = Info("ingest_build", "Build of the running service.", registry=r)
        self.build_info.info({"version": __version__, "python": platform.python_version(), **build.info()})
        # The standard process_* series of the service process, and the same for its workers.
        ProcessCollector(registry=r)
        self.workers = WorkerCollector()
        r.register(self.workers)

        self.stage_items_in = Counter(
            "ingest_stage_items_in_total", "Items that entered a stage.", ["stage"], registry=r
        )
        self.stage_items_out = Counter(
            "ingest_stage_items_out_total", "Items a stage passed on.", ["stage"], registry=r
        )
        self.stage_dropped = Counter(
            "ingest_stage_items_dropped_total",
            "Items a stage filtered out on purpose (duplicates...), by reason.",
            ["stage", "reason"],
            registry=r,
        )
        self.stage_errors = Counter(
            "ingest_stage_errors_total",
            "Items a stage failed on, by reason.",
            ["stage", "reason"],
            registry=r,
        )
        self.stage_in_progress = Gauge(
            "ingest_stage_items_in_progress", "Items inside a stage now.", ["stage"], registry=r
        )
        self.stage_duration = Histogram(
            "ingest_stage_duration_seconds",
            "Time an item spent in a stage.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_last_success = Gauge(
            "ingest_stage_last_success_timestamp_seconds",
            "When a stage last passed an item on (Unix time).",
            ["stage"],
            registry=r,
        )
        self.feed_polls = Counter("ingest_feed_polls_total", "Feed polls, by result.", ["result"], registry=r)
        self.feed_poll_errors = Counter(
            "ingest_feed_poll_errors_total", "Failed feed polls, by reason.", ["reason"], registry=r
        )
        self.poll_lag = Histogram(
            "ingest_feed_poll_lag_seconds",
            "How late polls start after their scheduled time.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.feed_entries = Counter("ingest_feed_entries_total", "Entries found in polled feeds.", registry=r)
        self.feed_entries_skipped = Counter(
            "ingest_feed_entries_skipped_total",
            "Items of polled feeds that are not entries, by reason: no_identity (neither link nor "
            "GUID), enclosure_only (only an enclosure link), bad_entry (unreadable).",
            ["reason"],
            registry=r,
        )
        self.robots_fetches = Counter(
            "ingest_robots_txt_fetches_total",
            "robots.txt requests, by result: fetched, unavailable (no rules), unreachable (disallow).",
            ["result"],
            registry=r,
        )
        self.feeds_by_state = Gauge(
            "ingest_feeds",
            "Feeds polled since start, by health: ok, backing_off, failing, gone.",
            ["state"],
            registry=r,
        )
        self.feeds_configured = Gauge("ingest_feeds_configured", "Feeds in the configuration.", registry=r)
        self.entry_outcomes = Counter(
            "ingest_entries_processed_total",
            "Feed entries carried through the pipeline, by final outcome.",
            ["outcome"],
            registry=r,
        )
        self.near_duplicates = Counter(
            "ingest_near_duplicates_total",
            "Articles published linked to an earlier copy of the same story.",
            registry=r,
        )
        self.articles_published = Counter(
            "ingest_articles_published_total",
            "Articles acknowledged by Kafka, by extraction method.",
            ["method"],
            registry=r,
        )
        self.kafka_publish = Counter(
            "ingest_kafka_messages_total",
            "Messages sent to Kafka, by topic and result.",
            ["topic", "result"],
            registry=r,
        )
        self.kafka_publish_latency = Histogram(
            "ingest_kafka_publish_duration_seconds",
            "Time from send to Kafka acknowledgement.",
            ["topic"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.kafka_in_flight = Gauge(
            "ingest_kafka_messages_in_flight",
            "Messages sent and not yet acknowledged.",
            registry=r,
        )
        self.dead_letters = Counter(
            "ingest_dead_letters_total",
            "Items sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.freshness = Histogram(
            "ingest_article_freshness_seconds",
            "Time from an article's stated publication to its Kafka acknowledgement.",
            buckets=_FRESHNESS_BUCKETS,
            registry=r,
        )
        self.last_publish = Gauge(
            "ingest_last_publish_timestamp_seconds",
            "When Kafka last acknowledged an article (Unix time).",
            registry=r,
        )
        self.worker_restarts = Counter(
            "ingest_worker_restarts",
            "Worker processes replaced, by reason (timeout, memory, crashed, recycled).",
            ["reason"],
            registry=r,
        )
        self.kafka_reconnects = Counter(
            "ingest_kafka_reconnects_total",
            "Times the producer was replaced because Kafka stopped acknowledging.",
            registry=r,
        )
        self.intake_paused = Gauge(
            "ingest_intake_paused",
            "1 while feed polling is paused (Kafka not acknowledging).",
            registry=r,
        )
        self.ready = Gauge(
            "ingest_ready", "1 when the service is ready (Kafka acknowledging, not stopping).", registry=r
        )
        # The fleet (roles poller and worker).
        self.feeds_owned = Gauge(
            "ingest_feeds_owned", "Feeds this poller polls (its share of the poller group).", registry=r
        )
        self.partitions_assigned = Gauge(
            "ingest_partitions_assigned",
            "Partitions this instance holds in its consumer group, by topic.",
            ["topic"],
            registry=r,
        )
        self.rebalances = Counter(
            "ingest_rebalances_total", "Consumer-group assignments received, by topic.", ["topic"], registry=r
        )
        self.links_consumed = Counter(
            "ingest_links_consumed_total", "Link messages a worker took from the links topic.", registry=r
        )
        self.links_uncommitted = Gauge(
            "ingest_links_uncommitted",
            "Links consumed whose offsets are not committed yet (in progress, or behind one that is).",
            registry=r,
        )
        self.offset_commits = Counter(
            "ingest_offset_commits_total",
            "Offset commits of the links topic, by result.",
            ["result"],
            registry=r,
        )
        self.archive_records = Counter(
            "ingest_backfill_records_total",
            "Records a backfill read from archives: page (an HTML response, handed to the article "
            "chain), or why it was skipped (not_html, truncated, corrupt_gzip, ...).",
            ["result"],
            registry=r,
        )
        self.archive_bytes = Counter(
            "ingest_backfill_read_bytes_total",
            "Bytes of archive files a backfill read (as stored: compressed).",
            registry=r,
        )
        self.archives = Counter(
            "ingest_backfill_archives_total",
            "Archive files a backfill ended, by result: finished, failed (could not be opened or "
            "read on; resumed by the next run), already_read (finished by an earlier run).",
            ["result"],
            registry=r,
        )
        self.archive_position = Gauge(
            "ingest_backfill_position_bytes",
            "Offset in the archive being read up to which every record was acknowledged.",
            registry=r,
        )
        self.archive_size = Gauge(
            "ingest_backfill_archive_size_bytes",
            "Size of the archive being read (0 when the server did not say).",
            registry=r,
        )
        self.archive_captures = Counter(
            "ingest_archive_captures_total",
            "Fetches for archive.dir, by result: written, dropped (the writer's queue was full: a slow "
            "disk), failed (the write failed: a full disk).",
            ["result"],
            registry=r,
        )
        self.archive_bytes = Counter(
            "ingest_archive_written_bytes_total", "Bytes written to archive files (compressed).", registry=r
        )
        self.archive_files = Counter(
            "ingest_archive_files_total", "Archive files completed (fsynced and renamed).", registry=r
        )
        self._preinitialise()

    def _preinitialise(self) -> None:
        for stage in STAGES:
            self.stage_items_in.labels(stage)
            self.stage_items_out.labels(stage)
            self.stage_in_progress.labels(stage)
            self.stage_duration.labels(stage)
            self.stage_last_success.labels(stage)  # 0: never, as ingest_last_publish_timestamp_seconds
            for reason in _FIRST_ERRORS:
                self.stage_errors.labels(stage, reason)
        for result in POLL_RESULTS:
            self.feed_polls.labels(result)
        for method in METHODS:
            self.articles_published.labels(method)
        for outcome in OUTCOMES:
            self.entry_outcomes.labels(outcome)
        self.stage_dropped.labels("claim", "already_seen")
        self.stage_dropped.labels("claim", "duplicate_url")
        self.stage_dropped.labels("dedup", "duplicate_content")
        self.stage_dropped.labels("dedup", "near_duplicate")
        self.stage_dropped.labels("fetch", "robots_txt")
        self.stage_dropped.labels("link", "bad_link")
        for result in ("ok", "failed"):
            self.offset_commits.labels(result)
        for result in ROBOTS_RESULTS:
            self.robots_fetches.labels(result)
        for reason in SKIPPED_ENTRIES:
            self.feed_entries_skipped.labels(reason)
        for reason in _FIRST_DEAD_LETTERS:
            self.dead_letters.labels(reason)
        for reason in _FIRST_POLL_ERRORS:
            self.feed_poll_errors.labels(reason)
        for reason in WORKER_RESTARTS:
            self.worker_restarts.labels(reason)
        for health in FEED_HEALTH:
            self.feeds_by_state.labels(health).set(0)
        for result in ARCHIVE_RECORDS:
            self.archive_records.labels(result)
        for result in ARCHIVE_RESULTS:
            self.archives.labels(result)
        for result in ("written", "dropped", "failed"):
            self.archive_captures.labels(result)

    def topics(self, *names: str) -> None:
        """Pre-initialise the per-topic series once the topic names are known."""
        for topic in names:
            self.kafka_publish_latency.labels(topic)
            for result in PUBLISH_RESULTS:
                self.kafka_publish.labels(topic, result)

    def group_topics(self, *names: str) -> None:
        """Pre-initialise the consumer-group series of the topics fleet members consume (0
        partitions held until an assignment says otherwise)."""
        for topic in names:
            self.partitions_assigned.labels(topic).set(0)
            self.rebalances.labels(topic)


class WorkerCollector(Collector):
    """CPU time and resident memory of the worker processes, read from /proc at scrape time.

    ``pids`` is set by the service once its pool runs. The CPU counter never goes down: a replaced
    worker's time (as last read) stays in it. Before the pool runs, and elsewhere than Linux, both
    are 0."""

    def __init__(self) -> None:
        self.pids: Callable[[], list[int]] = list
        self._seen: dict[int, float] = {}  # CPU seconds of each live worker, as last read
        self._retired = 0.0  # CPU seconds of workers gone since start
        self._lock = threading.Lock()  # scrapes may run concurrently

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            cpu, memory = self._read()
        yield CounterMetricFamily(
            "ingest_worker_cpu_seconds", "CPU time of the worker processes since start.", value=cpu
        )
        yield GaugeMetricFamily(
            "ingest_worker_resident_memory_bytes", "Resident memory of the worker processes.", value=memory
        )

    def _read(self) -> tuple[float, int]:
        now: dict[int, float] = {}
        memory = 0
        for pid in self.pids():
            usage = _proc_usage(pid)
            if usage is not None:
                now[pid] = usage[0]
                memory += usage[1]
        for pid, cpu in self._seen.items():
            if pid not in now or now[pid] < cpu:  # gone, or its pid taken by a new worker
                self._retired += cpu
        self._seen = now
        return self._retired + sum(now.values()), memory


def _proc_usage(pid: int) -> tuple[float, int] | None:
    """(user+system CPU seconds, resident bytes) of a process, from /proc; None if unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return cpu, int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE")
