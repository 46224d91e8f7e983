"""Dedup: by identity key before the fetch; by content hash, then by near-duplicate fingerprint,
after extraction.

Keys are remembered in the state store only after Kafka acknowledged (the pipeline records them).
Items still in flight are tracked here, so the same article listed by two feeds polled at once is
processed once: the second waits for the first and is dropped if the first finished.

Exact copies (the same text under another URL) are dropped. Near-duplicates (the same story with
another headline, intro or site furniture) are linked to the first copy seen (``duplicate_of``,
shared ``story_id``), or dropped if configured so.

Several instances link near-duplicates as one: each keeps the window's fingerprints in memory, reads
the rows the others registered since it last looked, matches, and registers its article's row only
if nobody registered one meanwhile (``StateStore.register_fingerprint``, atomic in the store);
otherwise it reads again and matches again. So of two copies of a story processed at the same moment
by two workers, one is linked to the other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ingest.config import DedupSettings
from ingest.errors import TransientError
from ingest.models import Article, Drop
from ingest.stages.similar import NearDuplicateIndex, signed
from ingest.state import FingerprintRow, StateStore

_MASK = (1 << 64) - 1  # stored fingerprints are signed 64-bit: back to unsigned for the index
# Tries to register a fingerprint while other instances register theirs first (each try reads
# theirs); past this the article is retried later.
_REGISTER_ATTEMPTS = 100

DUPLICATE_URL = Drop("duplicate_url")
DUPLICATE_CONTENT = Drop("duplicate_content")
NEAR_DUPLICATE = Drop("near_duplicate")
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


def published_time(article: Article) -> float:
    """When an article counts as published, for the near-duplicate window."""
    return (article.published_at or article.discovered_at).timestamp()


def fingerprint_row(article: Article) -> FingerprintRow:
    """The row the state store keeps for an article's fingerprint (signed 64-bit, for SQLite)."""
    return (article.id, article.story_id, signed(int(article.fingerprint, 16)), published_time(article))


class Deduplicator:
    def __init__(self, state: StateStore, settings: DedupSettings | None = None) -> None:
        self._state = state
        self._settings = settings or DedupSettings()
        self.keys = Claims()
        self.contents = Claims()
        self._index: NearDuplicateIndex | None = None
        self._seq = 0  # the last registration (by any instance) the index holds
        self._loading = asyncio.Lock()

    async def unseen(self, keys: list[str]) -> set[str]:
        """The keys not yet recorded as done (one query per batch)."""
        return set(keys) - await self._state.seen_keys(keys)

    async def seen(self, key: str) -> bool:
        return bool(await self._state.seen_keys([key]))

    async def _near_duplicates(self) -> NearDuplicateIndex:
        """The index of recent fingerprints, loaded from the state store on first use."""
        async with self._loading:
            if self._index is None:
                s = self._settings
                window_s = s.window_days * 86_400
                self._seq = await self._state.fingerprint_seq()  # then rows: none missed between
                rows = await self._state.fingerprints(time.time() - window_s)
                self._index = NearDuplicateIndex.from_rows(
                    rows, threshold=s.threshold_bits, window_s=window_s, min_words=s.min_words
                )
            return self._index

    def registers(self, article: Article) -> bool:
        """Whether ``by_content`` registers the article's fingerprint itself (when it passes): the
        pipeline then need not record it again after the ack."""
        return (
            article.word_count >= MIN_WORDS_FOR_CONTENT_DEDUP
            and self._settings.near_duplicates != "off"
            and bool(article.fingerprint)
        )

    async def by_content(self, article: Article, claim: Claim) -> Article | Drop:
        """The article (linked to its story if a near-duplicate), or a ``Drop`` for a copy.

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
        if not self.registers(article):
            return article
        index = await self._near_duplicates()
        fp = int(article.fingerprint, 16)
        for _ in range(_REGISTER_ATTEMPTS):
            rows, seq = await self._state.fingerprints_after(self._seq)
            for row in rows:  # registered by other instances (or by this one) since the last look
                index.add(row[0], row[1], row[2] & _MASK, row[3])
            self._seq = max(self._seq, seq)
            linked = article
            match = index.match(fp, words=article.word_count)
            if match is not None and match.article_id != article.id:
                if self._settings.near_duplicates == "drop":
                    return NEAR_DUPLICATE
                linked = article.model_copy(
                    update={"duplicate_of": match.article_id, "story_id": match.story_id}
                )
            # Registered now, not at the ack, so a copy processed at the same time links to this one.
            if await self._state.register_fingerprint(fingerprint_row(linked), seq):
                self._seq = max(self._seq, seq + 1)
                index.add(linked.id, linked.story_id, fp, published_time(linked))
                return linked
        raise TransientError("near-duplicate index: other instances kept registering first", url=article.url)
