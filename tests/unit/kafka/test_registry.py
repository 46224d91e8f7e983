"""The broker-side registry: a topic's file checks a record's value against the committed schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, ValidationError

from ingest.kafka.registry import record_schema, topic_schemas, write_registry
from ingest.stages.publish import article_message
from tests.unit.factories import make_article, words


def _value_validator(document: dict[str, object]) -> Draft202012Validator:
    # The broker compiles the ``value`` property on its own: its references must resolve there.
    value = document["properties"]["value"]  # type: ignore[index]
    return Draft202012Validator(value)


def test_a_topic_file_holds_the_message_schema_as_its_value_and_leaves_the_key_alone(tmp_path: Path) -> None:
    write_registry(tmp_path, topic_schemas("news.articles", "news.articles.dlq"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.articles.dlq.json", "news.articles.json"]
    document = json.loads((tmp_path / "news.articles.json").read_text(encoding="utf-8"))
    assert set(document["properties"]) == {"value"}
    _, value, _ = article_message(make_article(words(50)))
    _value_validator(document).validate(json.loads(value))


def test_an_article_that_breaks_the_schema_fails_its_value_schema() -> None:
    document = record_schema(topic_schemas("a", "d")["a"])
    _, value, _ = article_message(make_article(words(50)))
    article = json.loads(value)
    for broken in ({**article, "word_count": "many"}, {**article, "extra": 1}, {**article, "source": {}}):
        with pytest.raises(ValidationError):
            _value_validator(document).validate(broken)


@pytest.mark.parametrize("topic", ["", ".", "..", "a/b"])
def test_a_name_that_is_not_a_file_is_refused(tmp_path: Path, topic: str) -> None:
    with pytest.raises(ValueError, match="not a topic name"):
        write_registry(tmp_path, {topic: {"type": "object"}})
