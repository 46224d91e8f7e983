from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ingest.config import DedupSettings
from ingest.errors import InFlightFailed
from ingest.models import Article, Drop, Ticket
from ingest.stages.dedup import (
    DUPLICATE_CONTENT,
    MIN_WORDS_FOR_CONTENT_DEDUP,
    NEAR_DUPLICATE,
    Dedup,
    fingerprint_row,
)
from ingest.state import SqliteStateStore
from tests.unit.factories import make_article, make_ticket, release, words

LONG_BODY = words(MIN_WORDS_FOR_CONTENT_DEDUP + 5)
STORY = words(300, seed="wire")


@pytest.fixture
async def state() -> AsyncIterator[SqliteStateStore]:
    store = SqliteStateStore(":memory:")
    try:
        yield store
    finally:
        await store.close()


async def _dedup(dedup: Dedup, article: Article, ticket: Ticket | None = None) -> Article | Drop:
    ticket = ticket or make_ticket()
    try:
        return await dedup(article, ticket)
    finally:
        release(ticket, True)


async def test_new_content_passes_and_fills_in_the_ticket(state: SqliteStateStore) -> None:
    article = make_article(LONG_BODY)
    ticket = make_ticket()
    assert await Dedup(state)(article, ticket) is article
    assert (ticket.article_id, ticket.content_hash) == (article.id, article.content_hash)
    assert ticket.fingerprint is None  # registered when it was matched, not again at the commit


async def test_a_text_too_short_to_match_has_its_fingerprint_recorded_at_the_commit(
    state: SqliteStateStore,
) -> None:
    teaser = make_article("Read more on our website.")
    ticket = make_ticket()
    assert await Dedup(state)(teaser, ticket) is teaser
    assert ticket.fingerprint == fingerprint_row(teaser)


async def test_published_content_is_a_duplicate(state: SqliteStateStore) -> None:
    first = make_article(LONG_BODY, link="https://a.example/original")
    await state.record([first.id], first.id, first.content_hash)
    # Same words, other case and spacing, other URL.
    copy = make_article(LONG_BODY.upper().replace(" ", "\n\n"), link="https://b.example/copy")
    assert copy.content_hash == first.content_hash
    ticket = make_ticket()
    assert await Dedup(state)(copy, ticket) == DUPLICATE_CONTENT
    assert (ticket.article_id, ticket.content_hash) == (copy.id, None)


async def test_short_bodies_are_never_content_duplicates(state: SqliteStateStore) -> None:
    teaser = make_article("Read more on our website.")
    assert teaser.word_count < MIN_WORDS_FOR_CONTENT_DEDUP
    await state.record(["other"], "other", teaser.content_hash)
    assert await _dedup(Dedup(state), teaser) is teaser


@pytest.mark.parametrize("committed", [True, False])
async def test_same_content_in_flight_waits_for_its_owner(state: SqliteStateStore, committed: bool) -> None:
    dedup = Dedup(state)
    first = make_article(LONG_BODY, link="https://a.example/1")
    second = make_article(LONG_BODY, link="https://b.example/2")
    owner = make_ticket()
    assert await dedup(first, owner) is first
    waiter = asyncio.create_task(dedup(second, make_ticket()))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    release(owner, committed)
    if committed:
        assert await asyncio.wait_for(waiter, 1) == DUPLICATE_CONTENT
    else:
        with pytest.raises(InFlightFailed, match="same text"):
            await asyncio.wait_for(waiter, 1)


def _copy(number: int) -> Article:
    return make_article(f"Outlet {number} reports. {STORY}", link=f"https://outlet{number}.example/{number}")


async def test_copies_in_flight_together_are_linked(state: SqliteStateStore) -> None:
    """Of copies processed at the same moment in one process, the second always sees the first."""
    dedup = Dedup(state)
    results = await asyncio.gather(*(_dedup(dedup, _copy(n)) for n in range(8)))
    assert all(isinstance(r, Article) for r in results)
    articles = [r for r in results if isinstance(r, Article)]
    assert len({a.story_id for a in articles}) == 1
    assert sum(a.duplicate_of is None for a in articles) == 1


async def test_near_duplicates_can_be_dropped(state: SqliteStateStore) -> None:
    dedup = Dedup(state, DedupSettings(near_duplicates="drop"))
    assert isinstance(await _dedup(dedup, _copy(1)), Article)
    ticket = make_ticket()
    assert await _dedup(dedup, _copy(2), ticket) == NEAR_DUPLICATE
    assert ticket.content_hash is None
