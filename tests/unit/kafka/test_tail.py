from __future__ import annotations

import json

from ingest.config import KafkaSettings
from ingest.kafka.tail import Record, as_json_line, bootstrap_for, readable
from tests.unit.factories import make_article


def record(value: bytes | None, offset: int = 7) -> Record:
    return Record(partition=2, offset=offset, timestamp_ms=1_773_144_000_000, value=value)


def test_readable_gives_title_source_time_and_first_lines() -> None:
    body = "First paragraph of the story, long enough. " * 5 + "\n\nSecond paragraph.\n\nThird."
    article = make_article(body, title="Port workers walk out")
    text = readable(record(article.model_dump_json().encode()))
    lines = text.splitlines()
    assert lines[0] == "Port workers walk out"
    assert "Example News Online" in lines[1]
    assert "sent 2026-03-10T12:00:00Z" in lines[1]
    assert f"{article.word_count} words" in lines[1]
    assert lines[2].strip() == article.url
    assert lines[3].startswith("    First paragraph")
    assert len(lines) == 5  # two lines of body at most
    assert lines[4].endswith(" …")


def test_readable_survives_what_is_not_an_article() -> None:
    assert "not JSON" in readable(record(b"\xff\xfe"))
    assert "not an article" in readable(record(b"[1, 2]"))
    assert "not JSON" in readable(record(None))
    assert readable(record(b'{"title": null}')).startswith("(untitled)")


def test_json_lines_are_compact_and_undecodable_values_reported() -> None:
    assert as_json_line(record(b'{"a": 1,\n "b": [1, 2]}')) == '{"a":1,"b":[1,2]}'
    reported = json.loads(as_json_line(record(b"not json", offset=9)))
    assert reported == {"partition": 2, "offset": 9, "undecodable": "not json"}


def test_tail_finds_the_embedded_broker_of_a_running_service() -> None:
    embedded = KafkaSettings(bootstrap_servers="embedded", embedded_port=19092)
    assert bootstrap_for(embedded) == "127.0.0.1:19092"
    assert bootstrap_for(KafkaSettings(bootstrap_servers="k1:9092,k2:9092")) == "k1:9092,k2:9092"
