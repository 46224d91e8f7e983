from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ingest.errors import TransientError
from ingest.models import Article
from ingest.stages.dedup import (
    DUPLICATE_CONTENT,
    MIN_WORDS_FOR_CONTENT_DEDUP,
    Claim,
    Claims,
    Deduplicator,
)
from ingest.state import SqliteStateStore
from tests.unit.factories import make_article, words

LONG_BODY = words(MIN_WORDS_FOR_CONTENT_DEDUP + 5)


@pytest.fixture
async def state() -> AsyncIterator[SqliteStateStore]:
    store = SqliteStateStore(":memory:")
    try:
        yield store
    finally:
        await store.close()


async def _hold(
    claims: Claims, key: str, entered: asyncio.Event, release: asyncio.Event, finish: bool
) -> None:
    async with claims.claim(key) as claim:
        assert claim.owner is None
        entered.set()
        await release.wait()
        if finish:
            claim.finish()


async def _second_claimant(claims: Claims, key: str) -> bool | None:
    async with claims.claim(key) as claim:
        if claim.owner is None:
            return None
        return await claim.owner


@pytest.mark.parametrize("finish", [True, False])
async def test_second_claimant_waits_for_the_owner(finish: bool) -> None:
    claims = Claims()
    entered, release = asyncio.Event(), asyncio.Event()
    owner = asyncio.create_task(_hold(claims, "k", entered, release, finish))
    await entered.wait()
    waiter = asyncio.create_task(_second_claimant(claims, "k"))
    await asyncio.sleep(0.01)
    assert not waiter.done()  # waits while the owner is in flight
    release.set()
    # True when the owner finished its item, False when it left without finishing.
    assert await asyncio.wait_for(waiter, 1) is finish
    await owner


async def test_owner_failing_releases_waiters_with_false() -> None:
    claims = Claims()
    entered = asyncio.Event()

    async def failing_owner() -> None:
        async with claims.claim("k"):
            entered.set()
            await asyncio.sleep(0.01)
            raise RuntimeError("boom")

    owner = asyncio.create_task(failing_owner())
    await entered.wait()
    waiter = asyncio.create_task(_second_claimant(claims, "k"))
    with pytest.raises(RuntimeError, match="boom"):
        await owner
    assert await asyncio.wait_for(waiter, 1) is False


async def test_key_is_free_again_after_the_owner_left() -> None:
    claims = Claims()
    async with claims.claim("k") as first:
        assert first.owner is None
        first.finish()
    async with claims.claim("k") as again:
        assert again.owner is None  # not a duplicate of a finished one: the state store decides that


async def test_different_keys_do_not_wait() -> None:
    claims = Claims()
    async with claims.claim("a") as a, claims.claim("b") as b:
        assert a.owner is None
        assert b.owner is None


async def test_many_waiters_all_learn_the_result() -> None:
    claims = Claims()
    entered, release = asyncio.Event(), asyncio.Event()
    owner = asyncio.create_task(_hold(claims, "k", entered, release, True))
    await entered.wait()
    waiters = [asyncio.create_task(_second_claimant(claims, "k")) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiters) == [True] * 5
    await owner


async def test_finish_is_idempotent_and_a_no_op_for_non_owners() -> None:
    loop = asyncio.get_running_loop()
    mine: asyncio.Future[bool] = loop.create_future()
    claim = Claim(None, mine)
    claim.finish()
    claim.finish()
    assert mine.result() is True
    Claim(mine, None).finish()  # a waiter's claim has nothing to finish


# -- Deduplicator ---------------------------------------------------------------------------------


async def test_seen_reads_the_state(state: SqliteStateStore) -> None:
    dedup = Deduplicator(state)
    assert not await dedup.seen("https://a.example/1")
    await state.record(["https://a.example/1"], "id1", None)
    assert await dedup.seen("https://a.example/1")
    assert not await dedup.seen("https://a.example/2")


async def _by_content(dedup: Deduplicator, article: Article) -> Article | object:
    async with dedup.contents.claim(article.content_hash) as claim:
        result = await dedup.by_content(article, claim)
        claim.finish()
        return result


async def test_new_content_passes(state: SqliteStateStore) -> None:
    article = make_article(LONG_BODY)
    assert await _by_content(Deduplicator(state), article) is article


async def test_published_content_is_a_duplicate(state: SqliteStateStore) -> None:
    first = make_article(LONG_BODY, link="https://a.example/original")
    await state.record([first.id], first.id, first.content_hash)
    # Same words, other case and spacing, other URL.
    copy = make_article(LONG_BODY.upper().replace(" ", "\n\n"), link="https://b.example/copy")
    assert copy.content_hash == first.content_hash
    assert await _by_content(Deduplicator(state), copy) == DUPLICATE_CONTENT


async def test_short_bodies_are_never_content_duplicates(state: SqliteStateStore) -> None:
    teaser = make_article("Read more on our website.")
    assert teaser.word_count < MIN_WORDS_FOR_CONTENT_DEDUP
    await state.record(["other"], "other", teaser.content_hash)
    assert await _by_content(Deduplicator(state), teaser) is teaser


async def test_same_content_in_flight(state: SqliteStateStore) -> None:
    dedup = Deduplicator(state)
    first = make_article(LONG_BODY, link="https://a.example/1")
    second = make_article(LONG_BODY, link="https://b.example/2")
    async with dedup.contents.claim(first.content_hash) as owner:
        assert await dedup.by_content(first, owner) is first
        async with dedup.contents.claim(second.content_hash) as waiter:
            assert waiter.owner is not None
            owner.finish()
            assert await dedup.by_content(second, waiter) == DUPLICATE_CONTENT


async def test_same_content_whose_owner_failed_is_retried_later(state: SqliteStateStore) -> None:
    dedup = Deduplicator(state)
    article = make_article(LONG_BODY)
    entered, release = asyncio.Event(), asyncio.Event()
    owner = asyncio.create_task(_hold(dedup.contents, article.content_hash, entered, release, False))
    await entered.wait()

    async def check() -> Article | object:
        async with dedup.contents.claim(article.content_hash) as claim:
            return await dedup.by_content(article, claim)

    waiter = asyncio.create_task(check())
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(TransientError, match="same text failed in flight"):
        await waiter
    await owner
