"""Integration fixtures: a real Kafka-protocol broker, the loopback site, and the service as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.kafka.embedded import EmbeddedBroker, free_port
from tests.support.site import SITE_DIR, Site

EXPECTED: dict[str, dict[str, Any]] = json.loads((SITE_DIR / "expected.json").read_text())


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    embedded = EmbeddedBroker("127.0.0.1", 0)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site().start()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Deployment:
    """One service configuration: fresh topics, its own state file and status port."""

    config: Path
    bootstrap: str
    topic: str
    dlq_topic: str
    status_port: int

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_env(),
            check=False,
        )

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", "run", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}


@pytest.fixture
def deploy(tmp_path: Path, broker: str, site: Site) -> Any:
    """Factory: deploy(feeds=[paths], **overrides) writes a config and returns a ``Deployment``."""

    def make(feeds: list[Any], **sections: dict[str, Any]) -> Deployment:
        suffix = uuid.uuid4().hex[:8]
        status_port = free_port("127.0.0.1")
        config: dict[str, Any] = {
            "feeds": [site.url(f) if isinstance(f, str) else {**f, "url": site.url(f["url"])} for f in feeds],
            "kafka": {
                "bootstrap_servers": broker,
                "topic": f"articles-{suffix}",
                "dlq_topic": f"articles-{suffix}.dlq",
                "partitions": 3,
                "delivery_timeout_s": 20,
                "connect_timeout_s": 10,
            },
            "state": {"url": f"sqlite:///{tmp_path / 'state' / 'ingest.db'}"},
            "http": {"allow_private_networks": ["127.0.0.1/32"], "retries": 0},
            "metrics": {"host": "127.0.0.1", "port": status_port},
            "pipeline": {"workers": 2},
        }
        for section, values in sections.items():
            if isinstance(config.get(section), dict):
                config[section] = {**config[section], **values}
            else:
                config[section] = values
        path = tmp_path / "ingest.yaml"
        path.write_text(yaml.safe_dump(config))
        return Deployment(path, broker, config["kafka"]["topic"], config["kafka"]["dlq_topic"], status_port)

    return make
