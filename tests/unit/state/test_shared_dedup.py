"""Near-duplicates linked across instances: two deduplicators on one state, as two workers are."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ingest.config import DedupSettings
from ingest.models import Article
from ingest.stages.dedup import Dedup
from tests.unit.factories import make_article, make_ticket, release, words
from tests.unit.state.conftest import Backend

STORY = words(300, seed="wire")
NOW = datetime.now(UTC)


def copy(number: int) -> Article:
    """The same wire story under another outlet's headline line and URL."""
    return make_article(
        f"Outlet {number} reports. {STORY}",
        link=f"https://outlet{number}.example/news/{number}",
        published_at=NOW,
    )


async def _by_content(dedup: Dedup, article: Article) -> Article:
    ticket = make_ticket()
    result = await dedup(article, ticket)
    release(ticket, True)
    assert isinstance(result, Article)
    return result


async def test_a_copy_seen_by_another_instance_is_linked(backend: Backend) -> None:
    one = Dedup(await backend.open(), DedupSettings())
    two = Dedup(await backend.open(), DedupSettings())
    await _by_content(two, copy(0))  # each instance has loaded its window before the first copy
    first = await _by_content(one, copy(1))
    second = await _by_content(two, copy(2))
    assert first.duplicate_of is not None  # linked to copy 0, by the other instance
    assert second.duplicate_of in {first.id, first.duplicate_of}
    assert second.story_id == first.story_id


async def test_copies_at_the_same_moment_on_two_instances_form_one_story(backend: Backend) -> None:
    instances = [Dedup(await backend.open(), DedupSettings()) for _ in range(3)]
    results = await asyncio.gather(*(_by_content(instances[n % 3], copy(n)) for n in range(12)))
    stories = {r.story_id for r in results}
    assert len(stories) == 1
    assert sum(r.duplicate_of is None for r in results) == 1  # one first copy, every other linked
