"""The state stores under test: every backend behind one fixture, for the contract suite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ingest.config import StateSettings
from ingest.state import StateStore, open_state


class Backend:
    """Opens stores on one location: the same data each time, until the test ends. "Instances"
    share it as the backend allows: Redis clients of their own; SQLite serves one instance per
    file (a second one is refused), so the instances of one process share its store."""

    def __init__(self, settings: StateSettings) -> None:
        self.settings = settings
        self._open: list[StateStore] = []
        self._closed: set[int] = set()

    async def open(self) -> StateStore:
        if self.settings.backend == "sqlite":
            live = [s for s in self._open if id(s) not in self._closed]
            if live:
                return live[0]
        store = await open_state(self.settings)
        self._open.append(store)
        return store

    async def close(self, store: StateStore) -> None:
        await store.close()
        self._closed.add(id(store))

    async def close_all(self) -> None:
        for store in self._open:
            if id(store) not in self._closed:
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
