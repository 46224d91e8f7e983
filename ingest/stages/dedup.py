"""Dedup: by content hash, then by near-duplicate fingerprint, after normalisation.

Exact copies (the same text under another URL) are dropped. Near-duplicates (the same story with
another headline, intro or site furniture) are linked to the first copy seen (``duplicate_of``,
shared ``story_id``), or dropped if configured so. Texts in flight are held here (``InFlight``), so
of two exact copies processed at once the second waits for the first.

Matching and registering a fingerprint are one atomic step: in this process, under one lock (the
read of newer rows, the match and the registration, so of two copies in flight together the
second always sees the first); across instances, by the store (``register_fingerprint`` succeeds
only if nobody registered a row since this instance last read, else it reads and matches again).
The row is registered when it is matched, not at the ack, so a copy processed meanwhile links to it.
"""

from __future__ import annotations

import asyncio
import time

from ingest.config import DedupSettings
from ingest.errors import TransientError
from ingest.models import Article, Drop, FingerprintRow, Ticket
from ingest.stages.claim import InFlight, wait_for_owner
from ingest.stages.similar import NearDuplicateIndex, signed
from ingest.state import StateStore

_MASK = (1 << 64) - 1  # stored fingerprints are signed 64-bit: back to unsigned for the index
# Tries to register a fingerprint while other instances register theirs first (each try reads
# theirs); past this the article is retried later.
_REGISTER_ATTEMPTS = 100

DUPLICATE_CONTENT = Drop("duplicate_content")
NEAR_DUPLICATE = Drop("near_duplicate")
# Bodies shorter than this (teasers, "read more" stubs) are too generic to identify an article.
MIN_WORDS_FOR_CONTENT_DEDUP = 25


def published_time(article: Article) -> float:
    """When an article counts as published, for the near-duplicate window."""
    return (article.published_at or article.discovered_at).timestamp()


def fingerprint_row(article: Article) -> FingerprintRow:
    """The row the state store keeps for an article's fingerprint (signed 64-bit, for SQLite)."""
    return (article.id, article.story_id, signed(int(article.fingerprint, 16)), published_time(article))


class Dedup:
    """The dedup stage: the article (linked to its story if a near-duplicate), or a ``Drop``.

    Fills in the ticket: the article id always; the content hash, and the fingerprint row when this
    stage did not register it already, for an article that passes."""

    name = "dedup"

    def __init__(self, state: StateStore, settings: DedupSettings | None = None) -> None:
        self._state = state
        self._settings = settings or DedupSettings()
        self._contents = InFlight()
        self._index: NearDuplicateIndex | None = None
        self._seq = 0  # the last registration (by any instance) the index holds
        self._matching = asyncio.Lock()

    async def __call__(self, article: Article, ticket: Ticket, /) -> Article | Drop:
        ticket.article_id = article.id
        kept = await self._check(article, ticket)
        if isinstance(kept, Article):
            ticket.content_hash = kept.content_hash
            if not self._registers(kept):
                ticket.fingerprint = fingerprint_row(kept)
        return kept

    async def _check(self, article: Article, ticket: Ticket) -> Article | Drop:
        if article.word_count < MIN_WORDS_FOR_CONTENT_DEDUP:
            return article
        owner = self._contents.take(article.content_hash, ticket)
        if owner is not None:
            return await wait_for_owner(owner, DUPLICATE_CONTENT, "an article with the same text")
        if await self._state.content_owner(article.content_hash) is not None:
            return DUPLICATE_CONTENT
        if not self._registers(article):
            return article
        async with self._matching:
            return await self._link(article)

    def _registers(self, article: Article) -> bool:
        """Whether the article's fingerprint is registered when it is matched."""
        return (
            article.word_count >= MIN_WORDS_FOR_CONTENT_DEDUP
            and self._settings.near_duplicates != "off"
            and bool(article.fingerprint)
        )

    async def _near_duplicates(self) -> NearDuplicateIndex:
        """The index of recent fingerprints, loaded from the state store on first use."""
        if self._index is None:
            s = self._settings
            window_s = s.window_days * 86_400
            self._seq = await self._state.fingerprint_seq()  # then rows: none missed between
            rows = await self._state.fingerprints(time.time() - window_s)
            self._index = NearDuplicateIndex.from_rows(
                rows, threshold=s.threshold_bits, window_s=window_s, min_words=s.min_words
            )
        return self._index

    async def _link(self, article: Article) -> Article | Drop:
        """Match against every row registered so far, by any instance, and register this one."""
        index = await self._near_duplicates()
        fp = int(article.fingerprint, 16)
        for _ in range(_REGISTER_ATTEMPTS):
            rows, seq = await self._state.fingerprints_after(self._seq)
            for row in rows:  # registered by other instances since the last look
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
            if await self._state.register_fingerprint(fingerprint_row(linked), seq):
                self._seq = max(self._seq, seq + 1)
                index.add(linked.id, linked.story_id, fp, published_time(linked))
                return linked
        raise TransientError("near-duplicate index: other instances kept registering first", url=article.url)
