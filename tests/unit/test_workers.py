"""The worker pool: results, exceptions, and hostile tasks that fail alone."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ingest.errors import OutOfMemory, TaskTimeout, WorkerCrashed
from ingest.workers import WorkerPool


def add(a: int, b: int) -> int:
    return a + b


def pid() -> int:
    return os.getpid()


def sleep_for(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def sleep_in(marker: str, seconds: float) -> str:
    open(marker, "w").close()
    return sleep_for(seconds)


def hog_memory() -> int:
    return len(bytearray(3 * 1024**3))


def die() -> None:
    os._exit(3)


def fail() -> None:
    raise ValueError("bad document")


@pytest.fixture
async def pool() -> AsyncIterator[tuple[WorkerPool, list[str]]]:
    restarts: list[str] = []
    workers = WorkerPool(
        2,
        task_timeout_s=1.0,
        memory_limit_bytes=1024**3,
        max_tasks_per_worker=50,
        on_restart=restarts.append,
    )
    await workers.start()
    try:
        yield workers, restarts
    finally:
        await workers.close()


async def test_runs_tasks_in_other_processes(pool: tuple[WorkerPool, list[str]]) -> None:
    workers, _ = pool
    assert await workers.run(add, 2, b=3) == 5
    pids = set(await asyncio.gather(*(workers.run(pid) for _ in range(10))))
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


async def test_task_exceptions_are_raised_and_the_worker_kept(pool: tuple[WorkerPool, list[str]]) -> None:
    workers, restarts = pool
    with pytest.raises(ValueError, match="bad document"):
        await workers.run(fail)
    assert restarts == []
    assert await workers.run(add, 1, 1) == 2


@pytest.mark.parametrize(
    ("task", "error", "reason"),
    [
        (sleep_for, TaskTimeout, "timeout"),
        (hog_memory, OutOfMemory, "memory"),
        (die, WorkerCrashed, "crashed"),
    ],
)
async def test_a_hostile_task_fails_alone(
    pool: tuple[WorkerPool, list[str]], task: object, error: type[Exception], reason: str
) -> None:
    workers, restarts = pool
    args = (5.0,) if task is sleep_for else ()
    innocent = [workers.run(add, i, i) for i in range(20)]
    results = await asyncio.gather(workers.run(task, *args), *innocent, return_exceptions=True)  # type: ignore[arg-type]
    assert isinstance(results[0], error)
    assert results[1:] == [2 * i for i in range(20)]
    assert restarts == [reason]
    # The replacement worker serves the next tasks.
    assert await asyncio.gather(*(workers.run(add, 1, 2) for _ in range(4))) == [3] * 4


async def test_workers_are_recycled_after_many_tasks(pool: tuple[WorkerPool, list[str]]) -> None:
    workers, restarts = pool
    before = set(await asyncio.gather(*(workers.run(pid) for _ in range(4))))
    for _ in range(120):
        await workers.run(add, 1, 1)
    assert "recycled" in restarts
    after = set(await asyncio.gather(*(workers.run(pid) for _ in range(4))))
    assert before != after


async def test_closing_a_busy_pool_closes_each_pipe_once(tmp_path: Path) -> None:
    # close() kills the workers while their threads, seeing the pipe break, replace them: the two
    # kills of one worker race, and the second must not close the pipe again (EBADF).
    for attempt in range(5):
        workers = WorkerPool(2, task_timeout_s=30.0)
        await workers.start()
        markers = [tmp_path / f"{attempt}-{i}" for i in range(2)]
        busy = [asyncio.ensure_future(workers.run(sleep_in, str(m), 30.0)) for m in markers]
        deadline = time.monotonic() + 30
        while not all(m.exists() for m in markers):  # both workers are inside their task
            assert time.monotonic() < deadline, "the tasks never started"
            await asyncio.sleep(0.01)
        await workers.close()
        outcomes = await asyncio.gather(*busy, return_exceptions=True)
        assert all(isinstance(o, WorkerCrashed | asyncio.CancelledError) for o in outcomes), outcomes
        assert workers.pids() == []
