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
def embedded_broker() -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker("127.0.0.1", 0)
    try:
        embedded.start()
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def broker(embedded_broker: EmbeddedBroker) -> str:
    return embedded_broker.bootstrap_servers


@pytest.fixture
def deploy(tmp_path: Path, embedded_broker: EmbeddedBroker, site: Site) -> Deploy:
    """Deployments whose articles, latest versions and dead letters the broker itself checks
    against the committed schemas: every integration run of the service proves its messages."""
    return make_deploy(tmp_path, embedded_broker.bootstrap_servers, site, check=embedded_broker.check)
