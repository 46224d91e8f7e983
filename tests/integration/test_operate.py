"""What operators and consumers use on a running service: the status page in a real browser,
``ingest tail``, and the example downstream consumer, against a real broker and the loopback site."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ingest.kafka.embedded import EmbeddedBroker
from tests.support.browser import ARTIFACTS, rendered_dom, screenshot
from tests.support.deploy import Deploy, Deployment, stop
from tests.support.examples import run_example
from tests.support.kafka import wait_for_records
from tests.support.site import Site

ROOT = Path(__file__).resolve().parents[2]
TITLES = (
    "Port workers walk out as talks over night-shift pay collapse",
    "Council approves 412 million euro budget after late-night vote",
)


class _Visible(HTMLParser):
    """The text a person sees: no head, styles or scripts; cells and items on lines of their own."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._hidden = 0
        self._line: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "style", "script", "title"):
            self._hidden += 1
        if tag in ("tr", "li", "p", "h1", "h2", "div", "nav", "caption"):
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script", "title"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self._line.append(data.strip())

    def _flush(self) -> None:
        if self._line:
            self.lines.append(" ".join(self._line))
        self._line = []

    def text(self) -> list[str]:
        self._flush()
        return self.lines


def visible_lines(dom: str) -> list[str]:
    parser = _Visible()
    parser.feed(dom)
    return parser.text()


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, embedded_broker: EmbeddedBroker
) -> Iterator[tuple[Deployment, Site]]:
    """One long-running service over the site's world feed and a feed that does not exist."""
    from tests.support.deploy import make_deploy

    site = Site().start()
    tmp = tmp_path_factory.mktemp("operate")
    deploy: Deploy = make_deploy(tmp, embedded_broker.bootstrap_servers, site, check=embedded_broker.check)
    status, headers, body = site.content("/feeds/world.rss")
    site.routes["/feeds/world.rss"] = (status, headers, body.replace(b"<ttl>15</ttl>", b""))
    deployment = deploy(
        [
            {"url": "/feeds/world.rss", "name": "Harbour Gazette world"},
            {"url": "/feeds/gone.rss", "name": "Broken"},
        ],
        scheduler={"min_interval_s": 0.5, "default_interval_s": 1, "jitter": 0},
    )
    process = deployment.start(tmp / "service.log")
    try:
        deployment.wait_status("/readyz", 200, process)
        wait_for_records(deployment.bootstrap, deployment.topic, 4)
        _wait_for_feed_error(deployment)
        yield deployment, site
    finally:
        stop(process)
        site.stop()


def _wait_for_feed_error(deployment: Deployment, limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        feeds = json.loads(deployment.get("/feeds")[1])["feeds"]
        if any(f["consecutive_errors"] for f in feeds):
            return
        time.sleep(0.3)
    raise AssertionError("the broken feed never failed")


def _state_of(deployment: Deployment, name: str) -> str:
    feeds = json.loads(deployment.get("/feeds")[1])["feeds"]
    return str(next(f["state"] for f in feeds if f["name"] == name))


def test_status_page_in_a_browser(running: tuple[Deployment, Site], tmp_path: Path) -> None:
    deployment, _ = running
    url = f"http://127.0.0.1:{deployment.status_port}/"
    lines = visible_lines(rendered_dom(url, tmp_path / "profile"))
    text = "\n".join(lines)
    assert lines[0] == "ingest status"
    published = re.search(r"^published since start ([\d,]+)$", text, re.MULTILINE)
    assert published is not None, text
    assert int(published.group(1).replace(",", "")) >= 4
    assert "service ready" in text
    # Per-stage counts: fetch took in the four articles.
    fetch = next(line for line in lines if line.startswith("fetch "))
    assert int(fetch.split()[1]) >= 4
    # The feed table: name, state, when polled, result, errors.
    world = next(line for line in lines if line.startswith("Harbour Gazette world "))
    assert " ok " in world
    assert "ago" in world
    assert re.search(r"HTTP (200|304)", world), world
    broken = next(line for line in lines if line.startswith("Broken "))
    assert "http_404" in broken
    # The last articles published, with their titles.
    for title in TITLES:
        assert any(line.startswith(title) for line in lines), title
    shot = screenshot(url, ARTIFACTS / "status-page.png", tmp_path / "profile")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_status_page_filters_failing_feeds(running: tuple[Deployment, Site], tmp_path: Path) -> None:
    deployment, _ = running
    for _ in range(5):  # the feed goes from backing_off to failing as its errors add up: read again
        state = _state_of(deployment, "Broken")
        assert state in ("backing_off", "failing")
        dom = rendered_dom(f"http://127.0.0.1:{deployment.status_port}/?state={state}", tmp_path / "profile")
        lines = visible_lines(dom)
        if any(line.startswith("Broken ") for line in lines) or _state_of(deployment, "Broken") == state:
            break
    assert any(line.startswith("Broken ") for line in lines), (state, lines)
    assert not any(line.startswith("Harbour Gazette world ") for line in lines)
    status, body = deployment.get("/?state=nonsense")
    assert status == 400
    assert b"state must be one of" in body


def test_tail_prints_the_articles_and_exits(running: tuple[Deployment, Site]) -> None:
    deployment, _ = running
    readable = deployment.run("tail", "--from-beginning", timeout=60)
    assert readable.returncode == 0, readable.stderr
    for title in TITLES:
        assert f"\n{title}\n" in "\n" + readable.stdout
    assert re.search(r"\d+ messages from " + re.escape(deployment.topic), readable.stderr)
    as_json = deployment.run("tail", "--json", "-n", "2", timeout=60)
    assert as_json.returncode == 0, as_json.stderr
    articles = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(articles) == 2
    assert all(a["schema_version"] == 1 and a["body"] for a in articles)
    dlq = deployment.run("tail", "--topic", "no-such-topic", timeout=60)
    assert dlq.returncode == 2
    assert "does not exist" in dlq.stderr


def test_tail_follows_new_articles(running: tuple[Deployment, Site]) -> None:
    deployment, site = running
    follower = subprocess.Popen(
        [sys.executable, "-m", "ingest", "tail", "--follow", "-n", "0", "--config", str(deployment.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: list[str] = []
    assert follower.stdout is not None
    reader = threading.Thread(target=lambda: seen.extend(follower.stdout or ()), daemon=True)
    reader.start()
    try:
        time.sleep(3)  # tail is reading before the new entry appears
        site.add_item("/feeds/world.rss", "Tram line opens", "/articles/tram-line.html", "hg-3001")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("Line 4 tram" in line for line in seen):
            time.sleep(0.2)
        assert any("First passengers ride new Line 4 tram" in line for line in seen), seen
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
        reader.join(timeout=10)
        follower.stdout.close()


def test_example_consumer_validates_against_the_schema(running: tuple[Deployment, Site]) -> None:
    deployment, _ = running
    records = wait_for_records(deployment.bootstrap, deployment.topic, 4)
    result, summary = run_example(
        "consumer.py",
        *("--bootstrap", deployment.bootstrap, "--topic", deployment.topic, "--group", "example-test"),
        *("--idle-exit", "4", "--max-poll-interval-ms", "3000"),
    )
    assert summary["invalid"] == 0
    assert summary["valid"] >= len(records)
    ids = {line.split()[0] for line in result.stdout.splitlines()}
    assert {json.loads(r.value)["id"] for r in records} <= ids
