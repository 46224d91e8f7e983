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
import queue
import resource
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
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
        self._kill_lock = threading.Lock()
        self._killed = False

    def kill(self) -> None:
        """Idempotent and safe from two threads at once: on close, the pool kills a worker while
        its thread, seeing the pipe break, may be replacing it; the pipe must be closed once."""
        with self._kill_lock:
            if self._killed:
                return
            self._killed = True
            if self.process.is_alive():
                self.process.kill()
            self.process.join(timeout=5)
            self.conn.close()


@dataclass(slots=True)
class _Task:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class WorkerPool:
    """``await pool.run(fn, *args)`` runs ``fn`` (a module-level function) in a worker process.

    Each worker has a thread of its own that takes the next task from a shared queue, sends it, and
    waits for the reply under the deadline: a worker goes from one task to the next without waiting
    for the event loop, which matters when extraction is what the machine is saturated with.
    """

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
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        workers = await self._loop.run_in_executor(None, self._spawn_many)
        for index, worker in enumerate(workers):
            thread = threading.Thread(
                target=self._serve, args=(worker,), name=f"worker-io-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _spawn_many(self) -> list[_Worker]:
        return [self._spawn() for _ in range(self._size)]

    def _spawn(self) -> _Worker:
        worker = _Worker(self._context, self._memory)
        with self._lock:
            self._all.add(worker)
        return worker

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Result of ``fn(*args, **kwargs)``; its own exceptions are re-raised here.

        Raises ``TaskTimeout`` past the deadline, ``OutOfMemory`` past the memory limit and
        ``WorkerCrashed`` if the worker died; in each case the worker is replaced. A cancelled call's
        task, if already running, finishes (within its deadline) and its result is dropped.
        """
        assert self._loop is not None, "WorkerPool.run() before start()"
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Task(fn, args, kwargs, future, loop))
        return await future

    # -- on each worker's thread ----------------------------------------------------------------

    def _serve(self, worker: _Worker | None) -> None:
        while worker is not None:
            task = self._queue.get()
            if task is None:
                return
            if self._closed:  # taken after close(): nobody will run it
                with contextlib.suppress(RuntimeError):
                    task.loop.call_soon_threadsafe(task.future.cancel)
                return
            if task.future.cancelled():
                continue
            worker = self._execute(worker, task)

    def _execute(self, worker: _Worker, task: _Task) -> _Worker | None:
        """Run one task; returns the worker for the next one (a replacement if this one was lost)."""
        name = getattr(task.fn, "__name__", "task")
        try:
            worker.conn.send((task.fn, task.args, task.kwargs))
            if not worker.conn.poll(self._timeout):
                return self._fail(
                    task, worker, "timeout", TaskTimeout(f"{name} took longer than {self._timeout:g}s")
                )
            kind, value = worker.conn.recv()
        except (EOFError, OSError) as exc:
            why = f"worker died during {name}: {type(exc).__name__}"
            return self._fail(task, worker, "crashed", WorkerCrashed(why))
        except Exception as exc:  # the task itself could not be pickled: nothing reached the worker
            self._settle(task, error=exc)
            return worker
        if kind == _OOM:
            return self._fail(task, worker, "memory", OutOfMemory(f"{name} exceeded the worker memory limit"))
        if kind == _OK:
            self._settle(task, value=value)
        else:
            self._settle(task, error=value)
        worker.tasks += 1
        if worker.tasks >= self._max_tasks:
            return self._replace(worker, "recycled")
        return worker

    def _fail(self, task: _Task, worker: _Worker, reason: str, error: BaseException) -> _Worker | None:
        """The worker is lost with the task: replace it (and say so) before the caller hears."""
        replacement = self._replace(worker, reason)
        self._settle(task, error=error)
        return replacement

    def _settle(self, task: _Task, *, value: Any = None, error: BaseException | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            task.loop.call_soon_threadsafe(_resolve, task.future, value, error)

    def _replace(self, worker: _Worker, reason: str) -> _Worker | None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()
        if self._closed:
            return None
        if reason != "recycled":
            log.warning("worker process replaced (%s)", reason)
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._on_restart, reason)
        try:
            return self._spawn()
        except OSError as exc:
            log.error("cannot start a worker process: %s", exc)
            return None

    def pids(self) -> list[int]:
        """Process ids of the workers now running (for their CPU and memory metrics)."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    async def close(self) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        loop = asyncio.get_running_loop()
        for worker in workers:
            await loop.run_in_executor(None, worker.kill)
        while True:  # calls still queued will not be served
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                break
            if task is not None and not task.future.done():
                task.future.cancel()


def _resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
