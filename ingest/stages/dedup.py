"""Dedup: by identity key before the fetch, by content hash after extraction.

Keys are remembered in the state store only after Kafka acknowledged (the pipeline records them).
Items still in flight are tracked here, so the same article listed by two feeds polled at once is
processed once: the second waits for the first and is dropped if the first finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ingest.errors import TransientError
from ingest.models import Article, Drop
from ingest.state import StateStore

DUPLICATE_URL = Drop("duplicate_url")
DUPLICATE_CONTENT = Drop("duplicate_content")
ALREADY_SEEN = Drop("already_seen")
# Bodies shorter than this (teasers, "read more" stubs) are too generic to identify an article.
MIN_WORDS_FOR_CONTENT_DEDUP = 25


class Claim:
    """Ownership of one key while its item is in flight."""

    def __init__(self, owner: asyncio.Future[bool] | None, mine: asyncio.Future[bool] | None):
        self.owner = owner
        self._mine = mine

    def finish(self) -> None:
        """The item ended terminally: those waiting on this key may drop theirs."""
        if self._mine is not None and not self._mine.done():
            self._mine.set_result(True)


class Claims:
    def __init__(self) -> None:
        self._owners: dict[str, asyncio.Future[bool]] = {}

    @asynccontextmanager
    async def claim(self, key: str) -> AsyncIterator[Claim]:
        """A claim whose ``owner`` is None when we own ``key``, else the owner's future."""
        owner = self._owners.get(key)
        if owner is not None:
            yield Claim(owner, None)
            return
        mine: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._owners[key] = mine
        try:
            yield Claim(None, mine)
        finally:
            if not mine.done():
                mine.set_result(False)
            del self._owners[key]


class Deduplicator:
    def __init__(self, state: StateStore) -> None:
        self._state = state
        self.keys = Claims()
        self.contents = Claims()

    async def unseen(self, keys: list[str]) -> set[str]:
        """The keys not yet recorded as done (one query per batch)."""
        return set(keys) - await self._state.seen_keys(keys)

    async def seen(self, key: str) -> bool:
        return bool(await self._state.seen_keys([key]))

    async def by_content(self, article: Article, claim: Claim) -> Article | Drop:
        """The article, or ``DUPLICATE_CONTENT`` when the same text was already published.

        Raises ``TransientError`` when the same text is in flight and its owner did not finish.
        """
        if article.word_count < MIN_WORDS_FOR_CONTENT_DEDUP:
            return article
        if claim.owner is not None:
            if await claim.owner:
                return DUPLICATE_CONTENT
            raise TransientError("an article with the same text failed in flight", url=article.url)
        if await self._state.content_owner(article.content_hash) is not None:
            return DUPLICATE_CONTENT
        return article
