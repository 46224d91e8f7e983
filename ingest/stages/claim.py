"""Claim: an entry's identity key, before anything is fetched.

Keys are remembered in the state store only after Kafka acknowledged (the runner's commit step).
Keys still in flight are held here, so the same article listed by two feeds polled at once is
processed once: the second waits for the first, and is dropped if the first was committed, retried
later if it was not.
"""

from __future__ import annotations

import asyncio
import functools

from ingest.errors import InFlightFailed
from ingest.models import Drop, FeedEntry, Ticket
from ingest.state import StateStore

DUPLICATE_URL = Drop("duplicate_url")
ALREADY_SEEN = Drop("already_seen")


class InFlight:
    """Keys held by items in flight in this process, each with a future its waiters await: True
    once its item was committed, False if it ended without (it failed, or was deferred)."""

    def __init__(self) -> None:
        self._owners: dict[str, asyncio.Future[bool]] = {}

    def take(self, key: str, ticket: Ticket) -> asyncio.Future[bool] | None:
        """Hold ``key`` for the item of ``ticket`` (released when it ends) and return None; or, if
        another item holds it, that item's future."""
        owner = self._owners.get(key)
        if owner is not None:
            return owner
        self._owners[key] = asyncio.get_running_loop().create_future()
        ticket.holds.append(functools.partial(self._release, key))
        return None

    def _release(self, key: str, committed: bool) -> None:
        owner = self._owners.pop(key, None)
        if owner is not None and not owner.done():
            owner.set_result(committed)

    def __len__(self) -> int:
        return len(self._owners)


async def wait_for_owner(owner: asyncio.Future[bool], duplicate: Drop, what: str) -> Drop:
    """The drop for an item whose key another item held: a duplicate once that one was committed;
    ``InFlightFailed`` (retried later) when it was not."""
    if await asyncio.shield(owner):
        return duplicate
    raise InFlightFailed(f"{what} was in flight here and did not finish")


class Claim:
    """The first stage of every chain. ``check_seen``: look the key up in the state store (not for
    links, whose key a poller recorded when it linked them)."""

    name = "claim"

    def __init__(self, state: StateStore, keys: InFlight, *, check_seen: bool) -> None:
        self._state = state
        self._keys = keys
        self._check_seen = check_seen

    async def __call__(self, entry: FeedEntry, ticket: Ticket, /) -> FeedEntry | Drop:
        owner = self._keys.take(entry.key, ticket)
        if owner is not None:
            return await wait_for_owner(owner, DUPLICATE_URL, "the same entry")
        if self._check_seen and await self._state.seen_keys([entry.key]):
            return ALREADY_SEEN
        ticket.key = entry.key
        return entry
