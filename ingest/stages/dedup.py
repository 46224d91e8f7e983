"""Dedup: by content hash, then by the share of text copies hold in common, after normalisation.

Exact copies (the same text under another URL) are dropped. Near-duplicates (one story carried by
several outlets, cut and re-framed: ``ingest.stages.copies``) are linked to the copy seen first that
holds most of the text (``duplicate_of``, shared ``story_id``), or dropped if configured so. Texts in
flight are held here (``InFlight``), so of two exact copies processed at once the second waits for
the first. When republishing (a backfill with ``--republish``), an article's own text is not a copy.

Matching and registering a near-duplicate row (the text's sketch) are one atomic step: in this
process, under one lock (the read of newer rows, the match and the registration, so of two copies
in flight together the second always sees the first); across instances, by the store
(``register_fingerprint`` succeeds only if nobody registered a row since this instance last read,
else it reads and matches again).
The row is registered when it is matched, not at the ack, so a copy processed meanwhile links to it.
Texts under ``dedup.min_words`` words are neither matched nor registered; with ``near_duplicates:
off`` nothing is. The sketch comes on the ticket from the extract stage, which made it in a worker
(about 1 ms for 600 words); an article without one has it made here.
"""

from __future__ import annotations

import asyncio
import time

from ingest.config import DedupSettings
from ingest.errors import TransientError
from ingest.models import Article, Drop, FingerprintRow, Ticket
from ingest.stages.claim import InFlight, wait_for_owner
from ingest.stages.copies import CopyIndex, site_of, sketch
from ingest.state import StateStore

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


def fingerprint_row(article: Article, sketched: bytes | None = None) -> FingerprintRow:
    """The row the state store keeps for an article's near-duplicate sketch (``ingest.stages.copies``),
    computed here unless given."""
    if sketched is None:
        sketched = sketch(article.body, site_of(article.canonical_url or article.url))
    return (article.id, article.story_id, sketched, published_time(article))


class Dedup:
    """The dedup stage: the article (linked to its story if a near-duplicate), or a ``Drop``.

    Fills in the ticket: the article id always, and the content hash for an article that passes.
    Its near-duplicate row is registered here, when it is matched; texts under ``min_words`` words
    are too short to be matched and have none."""

    name = "dedup"

    def __init__(
        self, state: StateStore, settings: DedupSettings | None = None, *, republish: bool = False
    ) -> None:
        self._state = state
        self._republish = republish
        self._settings = settings or DedupSettings()
        self._contents = InFlight()
        self._index: CopyIndex | None = None
        self._seq = 0  # the last registration (by any instance) the index holds
        self._matching = asyncio.Lock()

    async def __call__(self, article: Article, ticket: Ticket, /) -> Article | Drop:
        ticket.article_id = article.id
        kept = await self._check(article, ticket)
        if isinstance(kept, Article):
            ticket.content_hash = kept.content_hash
        return kept

    async def _check(self, article: Article, ticket: Ticket) -> Article | Drop:
        if article.word_count < MIN_WORDS_FOR_CONTENT_DEDUP:
            return article
        if self._republish:  # a copy of another article's text: dropped before it holds the text
            first = await self._state.content_owner(article.content_hash)
            if first is not None and first != article.id:
                return DUPLICATE_CONTENT
        owner = self._contents.take(article.content_hash, ticket)
        if owner is not None:
            return await wait_for_owner(owner, DUPLICATE_CONTENT, "an article with the same text")
        first = await self._state.content_owner(article.content_hash)
        if first is not None and not (self._republish and first == article.id):
            return DUPLICATE_CONTENT
        if not self._registers(article):
            return article
        async with self._matching:
            return await self._link(article, ticket.sketch)

    def _registers(self, article: Article) -> bool:
        """Whether the article's fingerprint is registered when it is matched."""
        return self._settings.near_duplicates != "off" and article.word_count >= self._settings.min_words

    async def _near_duplicates(self) -> CopyIndex:
        """The index of recent fingerprints, loaded from the state store on first use."""
        if self._index is None:
            s = self._settings
            window_s = s.window_days * 86_400
            self._seq = await self._state.fingerprint_seq()  # then rows: none missed between
            rows = await self._state.fingerprints(time.time() - window_s)
            self._index = CopyIndex.from_rows(
                rows,
                containment=s.containment,
                containment_same_site=s.containment_same_site,
                window_s=window_s,
                min_words=s.min_words,
            )
        return self._index

    async def _link(self, article: Article, sketched: bytes | None) -> Article | Drop:
        """Match against every row registered so far, by any instance, and register this one."""
        index = await self._near_duplicates()
        own = fingerprint_row(article, sketched)
        for _ in range(_REGISTER_ATTEMPTS):
            rows, seq = await self._state.fingerprints_after(self._seq)
            for row in rows:  # registered by other instances since the last look
                index.add(*row)
            self._seq = max(self._seq, seq)
            linked = article
            match = index.match(own[2], words=article.word_count)
            if match is not None and match.article_id != article.id:
                if self._settings.near_duplicates == "drop":
                    return NEAR_DUPLICATE
                linked = article.model_copy(
                    update={"duplicate_of": match.article_id, "story_id": match.story_id}
                )
            row = (linked.id, linked.story_id, own[2], own[3])
            if await self._state.register_fingerprint(row, seq):
                self._seq = max(self._seq, seq + 1)
                index.add(*row)
                return linked
        raise TransientError("near-duplicate index: other instances kept registering first", url=article.url)
