"""The service is killed (SIGKILL) at random points and restarted: every article arrives, at least once."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.support.corpus import serve_generated
from tests.support.deploy import Deploy
from tests.support.kafka import read_topic, wait_for_records
from tests.support.site import Site

ARTICLES = 300


def _recorded(db: Path) -> int:
    """Articles the service has recorded as acknowledged so far (its state, read-only)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM seen").fetchone()[0])
    except sqlite3.OperationalError:  # the file exists, its tables not yet
        return 0


KILLS = 5


@pytest.mark.slow
def test_service_killed_five_times_loses_nothing(deploy: Deploy, site: Site, tmp_path: Path) -> None:
    serve_generated(site, ARTICLES)
    site.page_delay_s = 0.04  # about 3 s of fetching in all, so kills land mid-run
    deployment = deploy(
        ["/gen/feed.rss"],
        scheduler={"min_interval_s": 0.5, "default_interval_s": 1, "jitter": 0},
        pipeline={"workers": 2, "max_articles_in_flight": 16},
    )
    rng = random.Random(20261125)
    log = tmp_path / "service.log"
    kills_mid_run = 0
    # Kill points chosen by progress, not by the clock, so they land mid-run however loaded the
    # machine is: each kill comes once the state shows its share of articles acknowledged.
    db = tmp_path / "state" / "ingest.db"
    for target in sorted(rng.uniform(0.05, 0.9) * ARTICLES for _ in range(KILLS)):
        process = deployment.start(log)
        deadline = time.monotonic() + 60
        while _recorded(db) < target and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.02)
        kills_mid_run += 0 < _recorded(db) < ARTICLES
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert kills_mid_run >= 3  # the kills landed in the middle of the work

    process = deployment.start(log)
    try:
        records = wait_for_records(deployment.bootstrap, deployment.topic, ARTICLES, limit_s=120)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()[-3000:]
    records = read_topic(deployment.bootstrap, deployment.topic)
    keys = Counter(r.key for r in records)
    expected = {f"{site.base}/gen/{n}.html" for n in range(ARTICLES)}
    published_urls = {yaml.safe_load(r.value)["url"] for r in records}
    assert published_urls == expected  # nothing lost
    duplicates = sum(keys.values()) - len(keys)
    # A duplicate is the same article with the same key, never a different id for the same URL.
    assert len(keys) == ARTICLES
    assert duplicates <= KILLS * 16  # at most what was in flight at each kill


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ({"kafka": {"partitions": 0}}, "kafka.partitions"),
        ({"http": {"allow_private_networks": ["not-a-range"]}}, "http.allow_private_networks"),
        ({"feeds": ["ftp://example.org/feed"]}, "feeds[0].url"),
        ({"kafka": {"topicc": "x"}}, "kafka.topicc"),
        ({"state": {"url": "postgres://db/ingest"}}, "state.url"),
        ({"metrics": {"port": 70000}}, "metrics.port"),
    ],
)
def test_invalid_configuration_fails_fast_naming_the_key(
    tmp_path: Path, config: dict[str, object], names: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "run", "--once", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert names in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _run_to_completion(deployment: object, log: Path, count: int) -> list[object]:
    process = deployment.start(log)  # type: ignore[attr-defined]
    try:
        return wait_for_records(deployment.bootstrap, deployment.topic, count, limit_s=120)  # type: ignore[attr-defined]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


@pytest.mark.parametrize("signals", [1, 2])
def test_shutdown_drains_within_its_deadline_and_a_second_signal_exits_at_once(
    deploy: Deploy, site: Site, tmp_path: Path, signals: int
) -> None:
    serve_generated(site, 60)
    site.page_delay_s = 0.3  # slow pages: plenty still in flight when the signal comes
    deployment = deploy(
        ["/gen/feed.rss"],
        pipeline={"drain_timeout_s": 2},
        scheduler={"min_interval_s": 0.5, "default_interval_s": 1, "jitter": 0},
    )
    log = tmp_path / "service.log"
    process = deployment.start(log)
    deadline = time.monotonic() + 60
    while _recorded(tmp_path / "state" / "ingest.db") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    stopping = time.monotonic()
    for _ in range(signals):
        process.send_signal(signal.SIGTERM)
        time.sleep(0.1)
    process.wait(timeout=60)
    took = time.monotonic() - stopping
    if signals == 1:
        assert process.returncode == 0, log.read_text()[-2000:]
        assert took < 2 + 10  # the drain deadline, plus closing
        assert "stop requested" in log.read_text()
    else:
        assert process.returncode == 130
        assert took < 3
    assert _recorded(tmp_path / "state" / "ingest.db") < 60  # it really stopped mid-run
    # Whatever was cut short comes back on the next start: nothing is lost.
    site.page_delay_s = 0.0
    records = _run_to_completion(deployment, log, 60)
    assert len({r.key for r in records}) == 60  # type: ignore[attr-defined]
