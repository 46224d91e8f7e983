"""Shared fixtures of the unit tests."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_ingest_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ``INGEST_*`` variables: start every test without any."""
    for name in list(os.environ):
        if name.upper().startswith("INGEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def keep_root_logger() -> Iterator[None]:
    """For tests of code that installs its own handler on the root logger: the test's comes back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
