"""Shared fixtures of the unit tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_ingest_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ``INGEST_*`` variables: start every test without any."""
    for name in list(os.environ):
        if name.upper().startswith("INGEST_"):
            monkeypatch.delenv(name)
