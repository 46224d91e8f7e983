"""Fixtures shared by the integration and fault suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.site import Site


@pytest.fixture
def site() -> Iterator[Site]:
    """The loopback fixture site (tests/data/site), fresh for each test."""
    running = Site().start()
    try:
        yield running
    finally:
        running.stop()
