"""The broker misbehaves while the service runs: nothing is lost, the service recovers by itself."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from ingest.models import DeadLetter
from tests.faults.conftest import ControlledBroker
from tests.support.corpus import feed_xml, serve_generated
from tests.support.deploy import Deploy
from tests.support.kafka import read_topic, wait_for_records
from tests.support.site import Site

FAST = {"delivery_timeout_s": 3, "connect_timeout_s": 2}
QUICK_POLLS = {"min_interval_s": 0.5, "default_interval_s": 1, "jitter": 0}


def _stop(process: subprocess.Popen[str], log: Path) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return log.read_text()


def _hold_back(site: Site, count: int) -> None:
    """Serve ``count`` generated articles, but list none of them in the feed yet."""
    serve_generated(site, count)
    site.routes["/gen/feed.rss"] = (200, {"Content-Type": "application/rss+xml"}, feed_xml(site, range(0)))


def _release(site: Site, count: int) -> None:
    site.routes["/gen/feed.rss"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        feed_xml(site, range(count)),
    )


def test_broker_paused_longer_than_the_delivery_timeout(
    deploy: Deploy, broker: ControlledBroker, site: Site, tmp_path: Path
) -> None:
    _hold_back(site, 20)
    deployment = deploy(["/gen/feed.rss"], kafka=FAST, scheduler=QUICK_POLLS)
    log = tmp_path / "service.log"
    process = deployment.start(log)
    try:
        deployment.wait_status("/readyz", 200, process)
        broker.pause()
        _release(site, 20)  # the next poll finds 20 articles while Kafka does not answer
        deployment.wait_status("/readyz", 503, process, limit_s=30)
        _, body = deployment.get("/metrics")
        assert b"ingest_intake_paused 1.0" in body
        time.sleep(4)  # longer than the delivery timeout
        broker.resume()
        deployment.wait_status("/readyz", 200, process, limit_s=60)
        records = wait_for_records(deployment.bootstrap, deployment.topic, 20, limit_s=90)
        assert len({r.key for r in records}) == 20
        _, body = deployment.get("/metrics")
        assert b"ingest_intake_paused 0.0" in body
        assert b"ingest_kafka_reconnects_total 0.0" not in body
    finally:
        stderr = _stop(process, log)
    assert process.returncode == 0, stderr
    assert "Kafka stopped acknowledging" in stderr
    assert "Traceback" not in stderr


def test_broker_killed_and_restarted(
    deploy: Deploy, broker: ControlledBroker, site: Site, tmp_path: Path
) -> None:
    _hold_back(site, 20)
    deployment = deploy(["/gen/feed.rss"], kafka=FAST, scheduler=QUICK_POLLS)
    log = tmp_path / "service.log"
    process = deployment.start(log)
    try:
        deployment.wait_status("/readyz", 200, process)
        broker.kill()
        _release(site, 20)
        deployment.wait_status("/readyz", 503, process, limit_s=30)
        time.sleep(3)
        assert process.poll() is None  # still running, waiting for Kafka
        broker.restart(topics=(deployment.topic, deployment.dlq_topic))
        records = wait_for_records(deployment.bootstrap, deployment.topic, 20, limit_s=120)
        assert len({r.key for r in records}) == 20
        deployment.wait_status("/readyz", 200, process, limit_s=30)
    finally:
        stderr = _stop(process, log)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_broker_down_at_start_is_waited_for(
    deploy: Deploy, broker: ControlledBroker, site: Site, tmp_path: Path
) -> None:
    serve_generated(site, 5)
    deployment = deploy(["/gen/feed.rss"], kafka=FAST, scheduler=QUICK_POLLS)
    broker.kill()
    log = tmp_path / "service.log"
    process = deployment.start(log)
    try:
        deployment.wait_status("/healthz", 200, process)
        assert deployment.get("/readyz")[0] == 503
        time.sleep(2)
        broker.restart()
        records = wait_for_records(deployment.bootstrap, deployment.topic, 5, limit_s=90)
        assert len({r.key for r in records}) == 5
    finally:
        stderr = _stop(process, log)
    assert process.returncode == 0, stderr
    assert stderr.count("no Kafka broker reachable") == 1  # logged once, not at every retry


def test_topic_missing_on_a_broker_that_does_not_auto_create(deploy: Deploy, site: Site) -> None:
    deployment = deploy(["/feeds/world.rss"], kafka={"create_topics": False})
    result = deployment.run("run", "--once")
    assert result.returncode == 1
    assert f"Kafka topics absent: {deployment.topic}, {deployment.dlq_topic}" in result.stderr
    assert "Traceback" not in result.stderr
    assert site.requests == []  # nothing fetched for nothing


def test_once_with_no_broker_fails_fast_with_one_message(deploy: Deploy, broker: ControlledBroker) -> None:
    broker.kill()
    deployment = deploy(["/feeds/world.rss"], kafka=FAST)
    started = time.monotonic()
    result = deployment.run("run", "--once")
    assert result.returncode == 1
    assert time.monotonic() - started < 30
    assert result.stderr.count("no Kafka broker reachable") == 1


def test_message_too_large_goes_to_the_dead_letter_topic(deploy: Deploy, site: Site) -> None:
    deployment = deploy(["/feeds/world.rss"], kafka={"max_request_size": 2048})
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert read_topic(deployment.bootstrap, deployment.topic, idle_s=0.5) == []
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in read_topic(deployment.bootstrap, deployment.dlq_topic)
    ]
    assert len(letters) == 4
    assert {letter.reason for letter in letters} == {"too_large"}
    assert {letter.stage for letter in letters} == {"publish"}
    # Terminal: a second run neither retries them nor loses track of them.
    again = deployment.run("run", "--once")
    assert again.returncode == 0, again.stderr
    assert len(read_topic(deployment.bootstrap, deployment.dlq_topic)) == 4
