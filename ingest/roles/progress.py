"""How far a backfill is: bars on a terminal (tqdm), a JSON-ready log line every few seconds
otherwise. The same figures are metrics (``ingest_backfill_*``)."""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from typing import IO, Any

from tqdm import tqdm

log = logging.getLogger("ingest.backfill")

LOG_EVERY_S = 10.0


class Display:
    """``interactive``: bars on ``stream`` (a terminal); else log lines at most every ``every_s``."""

    def __init__(
        self, *, interactive: bool, stream: IO[str] | None = None, every_s: float = LOG_EVERY_S
    ) -> None:
        self._interactive = interactive
        self._stream = stream or sys.stderr
        self._every_s = every_s
        self._files = 0
        self._done = 0
        self._overall: Any = None
        self._bar: Any = None
        self._location = ""
        self._size: int | None = None
        self._start = 0
        self._position = 0
        self._began = time.monotonic()
        self._file_began = self._began
        self._pages = self._published = 0
        self._pages_at_file = self._published_at_file = 0
        self._logged = 0.0

    def start(self, files: int) -> None:
        self._files = files
        self._began = time.monotonic()
        if self._interactive:
            self._overall = tqdm(
                total=files, unit="file", desc="archives", position=0, file=self._stream, **self._screen()
            )

    def _screen(self) -> dict[str, int]:
        """The terminal's size, 100 by 24 where it says none (some give a size of 0, in which tqdm
        would draw nothing)."""
        try:
            size = os.get_terminal_size(self._stream.fileno())
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return {"ncols": 100, "nrows": 24}
        return {"ncols": size.columns or 100, "nrows": size.lines or 24}

    def file(self, location: str, size: int | None, start: int) -> None:
        self._location, self._size, self._start, self._position = location, size, start, start
        self._file_began = time.monotonic()
        self._pages_at_file, self._published_at_file = self._pages, self._published
        if self._interactive:
            self._bar = tqdm(
                total=size,
                initial=start,
                unit="B",
                unit_scale=True,
                desc=location.rsplit("/", 1)[-1][-40:],
                position=1,
                leave=False,
                file=self._stream,
                **self._screen(),
            )

    def advance(self, position: int, pages: int, published: int) -> None:
        """The reading reached ``position`` in the file; ``pages`` read and ``published`` so far."""
        step = position - self._position
        self._position, self._pages, self._published = position, pages, published
        if self._bar is not None:
            self._bar.update(max(0, step))
            self._bar.set_postfix(
                pages=pages - self._pages_at_file,
                published=published - self._published_at_file,
                refresh=False,
            )
        elif not self._interactive and time.monotonic() - self._logged >= self._every_s:
            self._log("backfill progress")

    def file_done(self) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._overall is not None:
            self._overall.update(1)
            self._overall.set_postfix(pages=self._pages, published=self._published, refresh=False)
        elif not self._interactive and self._location:
            self._log("backfill archive done")

    def close(self) -> None:
        for bar in (self._bar, self._overall):
            if bar is not None:
                bar.close()
        self._bar = self._overall = None

    def figures(self) -> dict[str, Any]:
        """What a log line says: where in which file, how fast, how long still."""
        now = time.monotonic()
        elapsed = max(now - self._file_began, 1e-6)
        read = self._position - self._start
        rate = read / elapsed
        eta = None
        if self._size and rate > 0:
            eta = round(max(0, self._size - self._position) / rate, 1)
        return {
            "archive": self._location,
            "position": self._position,
            "size": self._size,
            "pages": self._pages - self._pages_at_file,
            "published": self._published - self._published_at_file,
            "pages_per_s": round((self._pages - self._pages_at_file) / elapsed, 2),
            "eta_s": eta,
            "archives_done": self._done,
            "archives": self._files,
            "pages_total": self._pages,
            "published_total": self._published,
            "elapsed_s": round(now - self._began, 1),
        }

    def _log(self, message: str) -> None:
        self._logged = time.monotonic()
        log.info(message, extra={"progress": self.figures()})
