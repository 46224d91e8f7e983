"""Per-host politeness: concurrency and spacing of request starts."""

from __future__ import annotations

import asyncio
import time

import pytest

from ingest.net.hosts import HostGate


async def _starts(gate: HostGate, hosts: list[str], hold_s: float = 0.0) -> dict[str, list[float]]:
    starts: dict[str, list[float]] = {}
    began = time.monotonic()

    async def one(host: str) -> None:
        async with gate.slot(host):
            starts.setdefault(host, []).append(time.monotonic() - began)
            await asyncio.sleep(hold_s)

    await asyncio.gather(*(one(h) for h in hosts))
    return starts


# A start is seen when its task runs, which a busy loop delays: the k-th start is never seen before
# k delays have passed since the first could start, whatever the delays in seeing the others.
_EARLY = 0.001  # timers may fire up to the clock's resolution early


async def test_requests_to_one_host_start_at_least_the_delay_apart() -> None:
    starts = await _starts(HostGate(4, 0.05, 1.0), ["a.example"] * 4)
    times = sorted(starts["a.example"])
    assert len(times) == 4
    assert all(seen >= k * 0.05 - _EARLY for k, seen in enumerate(times)), times


async def test_other_hosts_do_not_wait_for_a_slow_one() -> None:
    starts = await _starts(HostGate(4, 0.2, 1.0), ["slow.example"] * 3 + ["b.example", "c.example"])
    waited = sorted(starts["slow.example"])[1:]  # the slow host's second and third starts
    assert starts["b.example"][0] < waited[0]
    assert starts["c.example"][0] < waited[0]
    assert waited[1] >= 0.4 - _EARLY


async def test_host_names_are_case_insensitive() -> None:
    starts = await _starts(HostGate(4, 0.05, 1.0), ["A.example", "a.EXAMPLE"])
    assert len(starts) == 2
    assert max(starts["A.example"][0], starts["a.EXAMPLE"][0]) >= 0.05 - _EARLY


async def test_concurrency_per_host_is_bounded() -> None:
    gate = HostGate(2, 0.0, 0.0)
    active = 0
    most = 0

    async def one() -> None:
        nonlocal active, most
        async with gate.slot("h.example"):
            active += 1
            most = max(most, active)
            await asyncio.sleep(0.01)
            active -= 1

    await asyncio.gather(*(one() for _ in range(10)))
    assert most == 2


def test_a_crawl_delay_raises_the_spacing_up_to_the_cap() -> None:
    gate = HostGate(4, 0.5, 10.0)
    assert gate.delay("h.example") == 0.5
    gate.set_delay("H.example", 3)
    assert gate.delay("h.example") == 3
    gate.set_delay("h.example", 3600)
    assert gate.delay("h.example") == 10.0
    gate.set_delay("h.example", 0.1)  # never below the configured minimum
    assert gate.delay("h.example") == 0.5
    gate.set_delay("h.example", None)
    assert gate.delay("h.example") == 0.5


async def test_idle_hosts_are_forgotten() -> None:
    gate = HostGate(1, 0.0, 0.0)
    for i in range(5000):
        async with gate.slot(f"h{i}.example"):
            pass
    assert gate.hosts <= 4096


async def test_a_host_in_use_is_never_forgotten() -> None:
    gate = HostGate(1, 0.0, 0.0)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot("busy.example"):
            entered.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await entered.wait()
    for i in range(5000):
        async with gate.slot(f"h{i}.example"):
            pass
    waiter = asyncio.create_task(_starts(gate, ["busy.example"]))
    await asyncio.sleep(0.02)
    assert not waiter.done()  # the one slot is still held: the host's entry survived the sweep
    release.set()
    await holder
    await waiter


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        HostGate(0, 0.0, 0.0)
