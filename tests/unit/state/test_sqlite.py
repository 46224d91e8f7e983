"""What only the SQLite store does; the shared promises are in test_contract.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.config import StateSettings
from ingest.errors import FatalError
from ingest.state import SqliteStateStore, open_state


async def test_open_state_from_url_creates_the_file_and_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "x.db"
    store = await open_state(StateSettings(url=f"sqlite:///{path}"))
    try:
        assert isinstance(store, SqliteStateStore)
        await store.record(["k"], "id", None)
    finally:
        await store.close()
    assert path.is_file()


def test_unusable_path_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="cannot open state store"):
        SqliteStateStore(str(tmp_path))  # a directory, not a database file


def test_unwritable_parent_is_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(FatalError):
        SqliteStateStore(str(blocker / "state.db"))
