"""Ending a group of asyncio tasks within a deadline, as every role does when it is stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

from ingest.errors import FatalError

log = logging.getLogger(__name__)


async def drain(tasks: Collection[asyncio.Future[Any]], deadline_s: float, what: str) -> None:
    """Wait for ``tasks`` up to the deadline, then cancel what still runs (``what`` names them in
    the log). Raises the first ``FatalError`` a task ended with."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=deadline_s)
    for task in pending:
        task.cancel()
    if pending:
        log.warning("cancelled %d %s still running after %.0fs", len(pending), what, deadline_s)
        await asyncio.wait(pending)
    for task in tasks:
        if not task.cancelled() and isinstance(task.exception(), FatalError):
            raise task.exception()  # type: ignore[misc]
