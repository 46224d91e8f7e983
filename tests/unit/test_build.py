from __future__ import annotations

import os

from prometheus_client import CollectorRegistry

from ingest import build
from ingest.metrics import Metrics, WorkerCollector


def test_build_info_is_unknown_outside_an_image_build() -> None:
    assert build.info() == {"revision": "unknown", "created": "unknown"}
    metrics = Metrics(CollectorRegistry())
    labels = {"revision": "unknown", "created": "unknown"}
    found = [s.labels for f in metrics.registry.collect() if f.name == "ingest_build" for s in f.samples]
    assert found
    assert labels.items() <= found[0].items()


def test_worker_collector_reads_cpu_and_memory_of_live_processes() -> None:
    collector = WorkerCollector()
    before = {f.name: f.samples[0].value for f in collector.collect()}
    assert before == {
        "ingest_worker_cpu_seconds": 0,
        "ingest_worker_resident_memory_bytes": 0,
    }  # no workers yet
    collector.pids = lambda: [os.getpid(), 999_999_999]  # one alive, one not
    families = {f.name: f.samples[0].value for f in collector.collect()}
    assert families["ingest_worker_cpu_seconds"] > 0
    assert families["ingest_worker_resident_memory_bytes"] > 10 * 1024 * 1024
