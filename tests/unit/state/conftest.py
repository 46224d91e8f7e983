"""The state stores under test: every backend behind one fixture, for the contract suite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ingest.config import StateSettings
from ingest.state import StateStore, open_state


class Backend:
    """Opens stores on one location: the same data each time, until the test ends."""

    def __init__(self, settings: StateSettings) -> None:
        self.settings = settings
        self._open: list[StateStore] = []

    async def open(self) -> StateStore:
        store = await open_state(self.settings)
        self._open.append(store)
        return store

    async def close_all(self) -> None:
        for store in self._open:
            await store.close()


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        settings = StateSettings(url=f"sqlite:///{tmp_path / 'state.db'}")
    else:
        url = request.getfixturevalue("redis_url")
        settings = StateSettings(url=url, key_prefix=f"test-{uuid.uuid4().hex[:8]}")
    opened = Backend(settings)
    try:
        yield opened
    finally:
        await opened.close_all()


@pytest.fixture
async def store(backend: Backend) -> StateStore:
    return await backend.open()
