"""A pool of worker processes for CPU-bound, hostile-input work (feed parsing, extraction).

Each task runs in one worker under a deadline and an address-space limit. A task that overruns its
deadline gets its worker killed; a task that exhausts memory or kills its worker fails alone: the
worker is replaced and the other tasks carry on. Tasks and results travel as pickles over a pipe, so
pass bytes, not parsed trees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import resource
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from ingest.errors import OutOfMemory, TaskTimeout, WorkerCrashed

log = logging.getLogger(__name__)

T = TypeVar("T")
Connection = multiprocessing.connection.Connection
Restarted = Callable[[str], None]

_OK, _ERROR, _OOM = "ok", "error", "oom"


def _worker_main(conn: Connection, memory_limit_bytes: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if memory_limit_bytes:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = (_OK, fn(*args, **kwargs))
        except MemoryError:
            conn.send((_OOM, None))
            return  # a worker that ran out of memory is not trusted with the next task
        except Exception as exc:
            reply = (_ERROR, exc)
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result or exception
            conn.send((_ERROR, RuntimeError(f"unpicklable result: {type(exc).__name__}: {exc}")))


class _Worker:
    def __init__(self, context: Any, memory_limit_bytes: int) -> None:
        self.conn, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child, memory_limit_bytes), daemon=True
        )
        self.process.start()
        child.close()
        self.tasks = 0

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """``await pool.run(fn, *args)`` runs ``fn`` (a module-level function) in a worker process."""

    def __init__(
        self,
        size: int,
        *,
        task_timeout_s: float,
        memory_limit_bytes: int = 0,
        max_tasks_per_worker: int = 1000,
        preload: tuple[str, ...] = (),
        on_restart: Restarted | None = None,
    ) -> None:
        self._size = size
        self._timeout = task_timeout_s
        self._memory = memory_limit_bytes
        self._max_tasks = max_tasks_per_worker
        self._context = multiprocessing.get_context("forkserver")
        if preload:
            self._context.set_forkserver_preload(list(preload))
        self._on_restart = on_restart or (lambda reason: None)
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        # Blocking pipe reads and writes happen on these threads, never on the event loop.
        self._io = ThreadPoolExecutor(max_workers=2 * size + 1, thread_name_prefix="worker-io")
        self._closed = False

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        workers = await asyncio.get_running_loop().run_in_executor(self._io, self._spawn_many)
        for worker in workers:
            self._idle.put_nowait(worker)

    def _spawn_many(self) -> list[_Worker]:
        return [self._spawn() for _ in range(self._size)]

    def _spawn(self) -> _Worker:
        worker = _Worker(self._context, self._memory)
        self._all.add(worker)
        return worker

    async def _replace(self, worker: _Worker, reason: str) -> None:
        self._all.discard(worker)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._io, worker.kill)
        if reason != "recycled":
            log.warning("worker process replaced (%s)", reason)
        self._on_restart(reason)
        if not self._closed and self._idle is not None:
            self._idle.put_nowait(await loop.run_in_executor(self._io, self._spawn))

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Result of ``fn(*args, **kwargs)``; its own exceptions are re-raised here.

        Raises ``TaskTimeout`` past the deadline, ``OutOfMemory`` past the memory limit and
        ``WorkerCrashed`` if the worker died; in each case the worker is replaced.
        """
        assert self._idle is not None, "WorkerPool.run() before start()"
        worker = await self._idle.get()
        loop = asyncio.get_running_loop()
        name = getattr(fn, "__name__", "task")
        try:
            await loop.run_in_executor(self._io, worker.conn.send, (fn, args, kwargs))
            reply = loop.run_in_executor(self._io, worker.conn.recv)
            kind, value = await asyncio.wait_for(reply, self._timeout)
        except TimeoutError:
            await self._replace(worker, "timeout")
            raise TaskTimeout(f"{name} took longer than {self._timeout:g}s") from None
        except (EOFError, OSError, BrokenPipeError) as exc:
            await self._replace(worker, "crashed")
            raise WorkerCrashed(f"worker died during {name}: {type(exc).__name__}") from None
        except BaseException:
            await self._replace(worker, "cancelled")
            raise
        if kind == _OOM:
            await self._replace(worker, "memory")
            raise OutOfMemory(f"{name} exceeded the worker memory limit")
        worker.tasks += 1
        if worker.tasks >= self._max_tasks:
            await self._replace(worker, "recycled")
        else:
            self._idle.put_nowait(worker)
        if kind == _ERROR:
            raise value
        return value  # type: ignore[no-any-return]

    async def close(self) -> None:
        self._closed = True
        loop = asyncio.get_running_loop()
        for worker in list(self._all):
            await loop.run_in_executor(self._io, worker.kill)
        self._all.clear()
        self._io.shutdown(wait=False, cancel_futures=True)
