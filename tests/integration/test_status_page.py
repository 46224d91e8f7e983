"""The status page as a person sees it, in headless Chromium, for a healthy service, one whose
every feed fails, and one with no feeds: the headline figures, the chart, the feed rows. A
screenshot of each is written to tests/artifacts/."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.test_operate import visible_lines
from tests.support.browser import ARTIFACTS, rendered_dom, screenshot
from tests.support.deploy import Deploy, Deployment, stop
from tests.support.kafka import wait_for_records

FAST = {"min_interval_s": 0.5, "default_interval_s": 1, "jitter": 0}


@contextmanager
def running(deployment: Deployment, log: Path) -> Iterator[subprocess.Popen[str]]:
    process = deployment.start(log)
    try:
        deployment.wait_status("/healthz", 200, process)
        yield process
    finally:
        stop(process)


def _wait_for(condition: str, check: object, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{condition}: not within {limit_s:g} s"
        time.sleep(0.2)


def _figure(lines: list[str], label: str) -> str:
    """The value of one headline figure ("feeds failing 2 of 2" -> "2 of 2")."""
    line = next((x for x in lines if x.startswith(label + " ")), None)
    assert line is not None, f"no {label!r} figure in:\n" + "\n".join(lines[:30])
    return line[len(label) + 1 :]


def _page(deployment: Deployment, profile: Path, name: str) -> tuple[list[str], str]:
    url = f"http://127.0.0.1:{deployment.status_port}/"
    dom = rendered_dom(url, profile)
    shot = screenshot(url, ARTIFACTS / f"status-{name}.png", profile)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 15_000  # a rendered page, not a blank one
    return visible_lines(dom), dom


def _bars(dom: str) -> int:
    chart = re.search(r'<svg id="per-minute".*?</svg>', dom, re.DOTALL)
    assert chart is not None, "no chart"
    assert 'aria-label="Articles published per minute, last 60 minutes"' in chart.group(0)
    return chart.group(0).count("<rect")


def test_a_healthy_service(deploy: Deploy, tmp_path: Path) -> None:
    deployment = deploy([{"url": "/feeds/world.rss", "name": "Harbour Gazette world"}], scheduler=FAST)
    with running(deployment, tmp_path / "service.log"):
        records = wait_for_records(deployment.bootstrap, deployment.topic, 4)
        _wait_for("/readyz 200", lambda: deployment.get("/readyz")[0] == 200)
        lines, dom = _page(deployment, tmp_path / "profile", "healthy")
    assert lines[0] == "ingest status"
    assert re.fullmatch(r"\d+ s ago", _figure(lines, "last article published"))
    assert int(_figure(lines, "articles, last 5 min").split()[0]) >= len(records)
    assert int(_figure(lines, "published since start")) >= len(records)
    assert _figure(lines, "feeds failing") == "0 of 1"
    assert _figure(lines, "feeds never succeeded") == "0"
    assert _figure(lines, "dead letters") == "0"
    assert _figure(lines, "Kafka").endswith("· acknowledging")
    assert _figure(lines, "service") == "ready"
    assert _bars(dom) >= 1  # the minute the articles came in
    world = next(line for line in lines if line.startswith("Harbour Gazette world "))
    assert " ok " in world


def test_a_service_whose_every_feed_fails(deploy: Deploy, tmp_path: Path) -> None:
    deployment = deploy(
        [
            {"url": "/feeds/gone-1.rss", "name": "Broken one"},
            {"url": "/feeds/gone-2.rss", "name": "Broken two"},
        ],
        scheduler=FAST,
    )
    with running(deployment, tmp_path / "service.log"):

        def errors() -> list[int]:
            return [f["consecutive_errors"] for f in json.loads(deployment.get("/feeds")[1])["feeds"]]

        def ready() -> tuple[int, str]:
            status, body = deployment.get("/readyz")
            return status, str(json.loads(body)["detail"])

        _wait_for("a first failed poll of each feed", lambda: len(errors()) == 2 and all(errors()))
        first_failure = time.monotonic()
        _wait_for("/readyz saying so", lambda: ready() == (503, "all 2 feeds failing"))
        took = time.monotonic() - first_failure
        lines, dom = _page(deployment, tmp_path / "profile", "failing")
    assert took < 30  # the retry after a failure comes at min_interval_s (0.5 s here; 60 s by default)
    assert _figure(lines, "feeds failing") == "2 of 2"
    assert _figure(lines, "feeds never succeeded") == "2"
    assert _figure(lines, "last article published") == "none yet"
    assert _figure(lines, "service") == "not ready: all 2 feeds failing"
    assert _bars(dom) == 0
    broken = next(line for line in lines if line.startswith("Broken one "))
    assert " failing " in broken
    assert "http_404" in broken


def test_a_service_with_no_feeds(deploy: Deploy, tmp_path: Path) -> None:
    deployment = deploy([], scheduler=FAST)
    with running(deployment, tmp_path / "service.log"):
        _wait_for("/readyz 200", lambda: deployment.get("/readyz")[0] == 200)
        lines, dom = _page(deployment, tmp_path / "profile", "empty")
    assert _figure(lines, "feeds failing") == "0 of 0"
    assert _figure(lines, "last article published") == "none yet"
    assert _figure(lines, "published since start") == "0"
    assert _figure(lines, "service") == "ready"
    assert "No feeds in this state." in lines
    assert "no history yet" in dom or _bars(dom) == 0
