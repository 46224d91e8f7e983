"""Claim: an entry's key held while in flight, and looked up as seen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ingest.errors import InFlightFailed
from ingest.models import Ticket
from ingest.stages.claim import ALREADY_SEEN, DUPLICATE_URL, Claim, InFlight
from ingest.state import SqliteStateStore
from tests.unit.factories import make_entry, make_ticket, release


@pytest.fixture
async def state() -> AsyncIterator[SqliteStateStore]:
    store = SqliteStateStore(":memory:")
    try:
        yield store
    finally:
        await store.close()


async def test_a_free_key_is_held_and_the_ticket_names_it(state: SqliteStateStore) -> None:
    entry = make_entry()
    ticket = make_ticket()
    assert await Claim(state, InFlight(), check_seen=True)(entry, ticket) is entry
    assert ticket.key == entry.key
    assert len(ticket.holds) == 1


async def test_a_seen_key_is_dropped_and_nothing_is_to_be_recorded(state: SqliteStateStore) -> None:
    entry = make_entry()
    await state.record([entry.key], "id", None)
    ticket = make_ticket()
    assert await Claim(state, InFlight(), check_seen=True)(entry, ticket) == ALREADY_SEEN
    assert ticket.key is None
    # A link's key was recorded by its poller: a worker does not look it up.
    linked = make_ticket()
    assert await Claim(state, InFlight(), check_seen=False)(entry, linked) is entry


@pytest.mark.parametrize("committed", [True, False])
async def test_a_second_item_waits_for_the_first(state: SqliteStateStore, committed: bool) -> None:
    keys = InFlight()
    claim = Claim(state, keys, check_seen=False)
    entry = make_entry()
    first: Ticket = make_ticket()
    assert await claim(entry, first) is entry
    waiter = asyncio.create_task(claim(entry, make_ticket()))
    await asyncio.sleep(0.01)
    assert not waiter.done()  # waits while the first is in flight
    release(first, committed)
    if committed:
        assert await asyncio.wait_for(waiter, 1) == DUPLICATE_URL
    else:
        with pytest.raises(InFlightFailed):
            await asyncio.wait_for(waiter, 1)
    assert len(keys) == 0


async def test_many_waiters_all_learn_the_result(state: SqliteStateStore) -> None:
    claim = Claim(state, InFlight(), check_seen=False)
    entry = make_entry()
    first = make_ticket()
    await claim(entry, first)
    waiters = [asyncio.create_task(claim(entry, make_ticket())) for _ in range(5)]
    await asyncio.sleep(0)
    release(first, True)
    assert await asyncio.gather(*waiters) == [DUPLICATE_URL] * 5


async def test_a_key_is_free_again_once_released_and_keys_do_not_wait_for_others(
    state: SqliteStateStore,
) -> None:
    keys = InFlight()
    claim = Claim(state, keys, check_seen=False)
    one, other = make_entry(link="https://a.example/1"), make_entry(link="https://a.example/2")
    first = make_ticket()
    assert await claim(one, first) is one
    assert await asyncio.wait_for(claim(other, make_ticket()), 1) is other
    release(first, True)
    assert await claim(one, make_ticket()) is one  # the state store decides if it is a duplicate now
