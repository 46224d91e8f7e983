"""Integration fixtures: a real Kafka-protocol broker, the loopback site, and the service as a process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.kafka.embedded import EmbeddedBroker
from tests.support.deploy import Deploy, make_deploy
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
def deploy(tmp_path: Path, broker: str, site: Site) -> Deploy:
    return make_deploy(tmp_path, broker, site)
