"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis import running_redis
from tests.support.site import Site


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of the test session's own (tests keep apart by key prefix)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def site() -> Iterator[Site]:
    """The loopback fixture site (tests/data/site), fresh for each test."""
    running = Site().start()
    try:
        yield running
    finally:
        running.stop()
