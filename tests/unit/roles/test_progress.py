"""The backfill's progress: bars on a terminal, log lines with the figures elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from ingest.roles.progress import Display


def test_without_a_terminal_it_logs_where_it_is_and_how_long_is_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    display = Display(interactive=False, every_s=0.0)
    caplog.set_level(logging.INFO, logger="ingest.backfill")
    display.start(2)
    display.file("/data/a.warc.gz", 1000, 200)
    display.advance(600, pages=30, published=25)
    display.file_done()
    progress = [r.progress for r in caplog.records]  # type: ignore[attr-defined]
    assert [r.getMessage() for r in caplog.records] == ["backfill progress", "backfill archive done"]
    first = progress[0]
    assert (first["archive"], first["position"], first["size"], first["pages"], first["published"]) == (
        "/data/a.warc.gz",
        600,
        1000,
        30,
        25,
    )
    assert first["eta_s"] is not None
    assert first["eta_s"] >= 0
    assert (progress[1]["archives_done"], progress[1]["archives"]) == (1, 2)


def test_on_a_terminal_it_draws_bars_of_archives_and_bytes() -> None:
    screen = io.StringIO()
    display = Display(interactive=True, stream=screen)
    display.start(1)
    display.file("/data/CC-NEWS-20240301.warc.gz", 1000, 0)
    display.advance(1000, pages=3, published=2)
    display.file_done()
    display.close()
    drawn = screen.getvalue()
    assert "CC-NEWS-20240301.warc.gz" in drawn
    assert "archives: 100%" in drawn
    assert "published=2" in drawn
