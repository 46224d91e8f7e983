"""`ingest run` as a long-running service: polls again, serves status and metrics, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.kafka import wait_for_records
from tests.support.site import Site


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_ready(port: int, process: subprocess.Popen[str], limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if _get(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("service never became ready")


def _samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = _get(port, "/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and all((k, v) in sample_labels for k, v in labels.items())
    )


def test_long_running_service_polls_reports_and_stops_cleanly(deploy: Any, site: Site) -> None:
    # The fixture feed asks for a 15-minute ttl, which the scheduler honours: serve it without.
    status, headers, body = site.content("/feeds/world.rss")
    site.routes["/feeds/world.rss"] = (status, headers, body.replace(b"<ttl>15</ttl>", b""))
    deployment = deploy(
        [{"url": "/feeds/world.rss", "interval": 1}, "/feeds/problems.rss"],
        scheduler={"min_interval_s": 0.5, "default_interval_s": 1, "jitter": 0},
    )
    process = deployment.start()
    try:
        _wait_ready(deployment.status_port, process)
        assert _get(deployment.status_port, "/healthz") == (200, b'{"status": "ok"}')
        health = deployment.run("healthcheck", timeout=30)
        assert health.returncode == 0, health.stderr

        # world.rss: 4 articles; problems.rss: 1 article (feed fallback) and 2 dead letters.
        records = wait_for_records(deployment.bootstrap, deployment.topic, 5)
        assert len(records) == 5
        wait_for_records(deployment.bootstrap, deployment.dlq_topic, 2)

        # A new entry appears in the feed: the next poll picks it up without a restart.
        site.add_item("/feeds/world.rss", "Tram line opens", "/articles/tram-line.html", "hg-3001")
        records = wait_for_records(deployment.bootstrap, deployment.topic, 6)
        assert len(records) == 6
        assert sum(1 for r in records if b"tram-line.html" in r.value) == 1

        samples = _samples(deployment.status_port)
        assert _total(samples, "ingest_articles_published_total") == 6
        assert _total(samples, "ingest_articles_published_total", method="feed") == 1
        assert _total(samples, "ingest_dead_letters_total", reason="no_content") == 2
        assert _total(samples, "ingest_kafka_messages_total", topic=deployment.topic, result="acked") == 6
        assert _total(samples, "ingest_kafka_messages_total", topic=deployment.dlq_topic, result="acked") == 2
        assert _total(samples, "ingest_feed_polls_total", result="modified") >= 3
        assert _total(samples, "ingest_feed_polls_total", result="not_modified") >= 1
        assert _total(samples, "ingest_stage_items_dropped_total", stage="claim", reason="already_seen") >= 4
        assert _total(samples, "ingest_feeds_configured") == 2
        assert _total(samples, "ingest_build_info") == 1
        assert _total(samples, "ingest_stage_duration_seconds_count", stage="extract") >= 5

        ready = json.loads(_get(deployment.status_port, "/readyz")[1])
        assert ready == {"ready": True, "detail": "ok"}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, stderr
    assert "SIGTERM received: stopping" in stderr
    assert "Traceback" not in stderr
    # Nothing published twice across the whole run.
    final = wait_for_records(deployment.bootstrap, deployment.topic, 6, limit_s=5)
    assert len({r.key for r in final}) == len(final) == 6
