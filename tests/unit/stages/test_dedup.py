from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ingest.config import DedupSettings
from ingest.errors import InFlightFailed
from ingest.models import Article, Drop, Ticket
from ingest.stages.copies import sketch
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
    article = make_article(STORY)
    ticket = make_ticket()
    assert await Dedup(state)(article, ticket) is article
    assert (ticket.article_id, ticket.content_hash) == (article.id, article.content_hash)
    # Its near-duplicate row was registered when it was matched, not at the commit.
    assert await state.fingerprints(0.0) == [fingerprint_row(article)]


async def test_the_sketch_the_normalise_stage_left_on_the_ticket_is_registered(
    state: SqliteStateStore,
) -> None:
    article = make_article(STORY)
    ticket = make_ticket()
    ticket.sketch = sketch(STORY, "made-in-a-worker.example")
    assert await Dedup(state)(article, ticket) is article
    assert await state.fingerprints(0.0) == [fingerprint_row(article, ticket.sketch)]
    assert fingerprint_row(article, ticket.sketch) != fingerprint_row(article)  # another site's tag


async def test_a_text_too_short_to_match_registers_no_row(state: SqliteStateStore) -> None:
    teaser = make_article(LONG_BODY)
    assert teaser.word_count < DedupSettings().min_words
    assert await _dedup(Dedup(state), teaser) is teaser
    assert await state.fingerprints(0.0) == []


async def test_with_near_duplicates_off_nothing_is_registered(state: SqliteStateStore) -> None:
    dedup = Dedup(state, DedupSettings(near_duplicates="off"))
    assert isinstance(await _dedup(dedup, _copy(1)), Article)
    copy = await _dedup(dedup, _copy(2))
    assert isinstance(copy, Article)
    assert copy.duplicate_of is None
    assert await state.fingerprints(0.0) == []


async def test_a_partial_copy_on_another_site_is_linked_and_a_restart_keeps_the_window(
    state: SqliteStateStore,
) -> None:
    original = make_article(STORY, link="https://agency.example/story")
    first = await _dedup(Dedup(state), original)
    assert isinstance(first, Article)
    # Another outlet runs the first half under its own intro; a new process reads the window back.
    half = " ".join([words(60, seed="courier"), *STORY.split(" ")[:150]])
    # (The fixtures' articles are from March 2026: a window of years holds them.)
    restarted = Dedup(state, DedupSettings(window_days=3650))
    copy = await _dedup(restarted, make_article(half, link="https://courier.example/half"))
    assert isinstance(copy, Article)
    assert (copy.duplicate_of, copy.story_id) == (original.id, original.id)


async def test_two_pages_of_one_site_need_most_of_the_text_in_common(state: SqliteStateStore) -> None:
    words_ = STORY.split(" ")
    dedup = Dedup(state)
    assert isinstance(await _dedup(dedup, make_article(STORY, link="https://one.example/a")), Article)
    # Half of the story under as much new text: enough between sites, not within one.
    mixed = " ".join([*words_[: len(words_) // 2], words(len(words_) // 2, seed="other")])
    same_site = await _dedup(dedup, make_article(mixed, link="https://www.one.example/b"))
    assert isinstance(same_site, Article)
    assert same_site.duplicate_of is None
    other_site = await _dedup(dedup, make_article(mixed + " More.", link="https://two.example/c"))
    assert isinstance(other_site, Article)
    assert other_site.duplicate_of is not None


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


async def test_republishing_keeps_an_articles_own_text_and_drops_the_copies_first(
    state: SqliteStateStore,
) -> None:
    original = make_article(LONG_BODY, link="https://a.example/original")
    copy = make_article(LONG_BODY, link="https://b.example/copy")
    await state.record([original.id], original.id, original.content_hash)  # the live run's
    dedup = Dedup(state, republish=True)
    copy_ticket = make_ticket()
    # The copy comes first and is dropped before it holds the text: the original, right behind
    # it, is not taken for a copy of a copy.
    assert await dedup(copy, copy_ticket) == DUPLICATE_CONTENT
    assert await asyncio.wait_for(dedup(original, make_ticket()), 1) is original
    release(copy_ticket, True)
    assert await _dedup(Dedup(state), original) == DUPLICATE_CONTENT  # not republishing: a duplicate
