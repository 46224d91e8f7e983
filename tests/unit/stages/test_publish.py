"""What each message says about itself: CloudEvents attributes of articles, dead letters and links,
with the service's own headers kept beside them until their removal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest import __version__
from ingest.errors import ParseError
from ingest.stages.publish import Sink, dead_letter
from tests.support.memory import MemorySender
from tests.unit.factories import FEED_URL, FIXED_TIME, LINK, make_article, make_entry, words

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def _sent(sender: MemorySender, topic: str) -> list[dict[str, bytes]]:
    return [dict(m.headers) for m in sender.topics[topic]]


async def test_an_article_is_an_event_of_its_feed_about_its_url() -> None:
    sender = MemorySender()
    article = make_article(words(200))
    await Sink(sender, "a", "a.dlq", "l").publish(article)
    (headers,) = _sent(sender, "a")
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"example.ingest.article"
    assert headers["ce_source"] == FEED_URL.encode()
    assert headers["ce_subject"] == LINK.encode()
    assert headers["ce_time"] == b"2026-03-10T12:00:00.000Z"  # fetched_at
    assert headers["content-type"] == b"application/json"
    schema = json.loads((SCHEMAS / "article.v1.json").read_text(encoding="utf-8"))
    assert headers["ce_dataschema"] == schema["$id"].encode()
    # The service's own headers, until their removal.
    assert headers["message-type"] == b"article"
    assert headers["schema-version"] == b"1"
    assert headers["producer"] == f"ingest/{__version__}".encode()


async def test_the_same_article_sent_again_is_the_same_event_and_a_changed_one_is_new() -> None:
    sender = MemorySender()
    sink = Sink(sender, "a", "a.dlq", "l")
    article = make_article(words(200))
    await sink.publish(article)
    await sink.publish(article)  # a resend after a crash
    await sink.publish(make_article(words(200, seed="other")))  # new text, same id
    await sink.publish(article.model_copy(update={"title": "A corrected headline"}))
    ids = [h["ce_id"] for h in _sent(sender, "a")]
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3]}) == 3
    assert {m.key for m in sender.topics["a"]} == {article.id.encode()}


async def test_a_dead_letter_is_an_event_with_its_own_schema() -> None:
    sender = MemorySender()
    letter = dead_letter(make_entry(), ParseError("no text"), "extract")
    await Sink(sender, "a", "a.dlq", "l").dead_letter(letter)
    (headers,) = _sent(sender, "a.dlq")
    assert headers["ce_type"] == b"example.ingest.dead_letter"
    assert headers["message-type"] == b"dead-letter"
    assert headers["ce_source"] == FEED_URL.encode()
    assert headers["ce_subject"] == LINK.encode()
    schema = json.loads((SCHEMAS / "dead_letter.v1.json").read_text(encoding="utf-8"))
    assert headers["ce_dataschema"] == schema["$id"].encode()
    assert headers["dlq-reason"] == letter.reason.encode()


async def test_a_link_is_the_same_event_until_its_entry_says_it_changed() -> None:
    sender = MemorySender()
    sink = Sink(sender, "a", "a.dlq", "l")
    entry = make_entry(published_at=FIXED_TIME)
    await sink.link(entry)
    await sink.link(replace(entry, discovered_at=datetime.now(UTC)))  # seen again, unchanged
    await sink.link(replace(entry, updated_at=FIXED_TIME + timedelta(hours=2)))
    sent = _sent(sender, "l")
    assert [h["ce_type"] for h in sent] == [b"example.ingest.link"] * 3
    assert "ce_dataschema" not in sent[0]  # internal to the service: no published schema
    assert sent[0]["ce_id"] == sent[1]["ce_id"] != sent[2]["ce_id"]


async def test_an_article_from_an_archive_names_it_as_a_file_uri() -> None:
    sender = MemorySender()
    article = make_article(words(200), feed_url="/data/cc news/CC-NEWS-1.warc.gz")
    await Sink(sender, "a", "a.dlq", "l").publish(article)
    (headers,) = _sent(sender, "a")
    assert headers["ce_source"] == b"file:///data/cc%20news/CC-NEWS-1.warc.gz"


async def test_an_article_goes_to_the_latest_topic_too_when_there_is_one() -> None:
    sender = MemorySender()
    article = make_article(words(200))
    await Sink(sender, "a", "a.dlq", "l", latest_topic="a.latest").publish(article)
    (published,) = sender.topics["a"]
    (kept,) = sender.topics["a.latest"]
    assert (kept.key, kept.value, kept.headers) == (published.key, published.value, published.headers)
    await Sink(sender, "b", "b.dlq", "l").publish(article)
    assert set(sender.topics) == {"a", "a.latest", "b"}
