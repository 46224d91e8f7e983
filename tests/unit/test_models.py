from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.models import (
    ARTICLE_SCHEMA,
    Article,
    DeadLetter,
    committed_schemas,
    json_schema,
    schema_file_text,
)
from tests.unit.factories import make_article, make_entry

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize("name", sorted(committed_schemas()))
def test_committed_schema_matches_the_model(name: str) -> None:
    generated = schema_file_text(committed_schemas()[name])
    committed = (SCHEMAS / name).read_text(encoding="utf-8")
    assert committed == generated, (
        f"schemas/{name} is out of date with its model in ingest.models; "
        "regenerate it with `make schema` and review the change"
    )


def test_every_committed_schema_file_has_a_model() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(committed_schemas())


def test_schema_identifies_itself_and_lists_the_required_fields() -> None:
    schema = json_schema(ARTICLE_SCHEMA)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://ingest.example/schemas/article.v1.json"
    assert schema["additionalProperties"] is False
    required = schema["required"]
    assert isinstance(required, list)
    assert {"id", "body", "content_hash", "discovered_at", "source", "extraction"} <= set(required)
    properties = schema["properties"]
    assert isinstance(properties, dict)
    assert set(properties) == set(Article.model_fields)
    assert all(p.get("description") or "$ref" in p for p in properties.values())


def test_article_is_frozen_and_strict() -> None:
    article = make_article("Body text.")
    with pytest.raises(ValidationError):
        article.title = "other"  # type: ignore[misc]
    data = article.model_dump(mode="json")
    with pytest.raises(ValidationError, match="Extra inputs"):
        Article.model_validate({**data, "colour": "red"})
    with pytest.raises(ValidationError):
        Article.model_validate({**data, "schema_version": 2})


def test_article_times_must_carry_a_zone() -> None:
    data = make_article("Body text.").model_dump(mode="json")
    data["discovered_at"] = "2026-03-10T12:00:00"
    with pytest.raises(ValidationError, match="discovered_at"):
        Article.model_validate(data)


def test_article_json_round_trip() -> None:
    article = make_article("Body text.", published_at=datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    data = json.loads(article.model_dump_json())
    assert data["schema_version"] == 1
    assert data["published_at"] == "2026-03-10T09:00:00Z"
    assert Article.model_validate_json(article.model_dump_json()) == article


def test_dead_letter() -> None:
    letter = DeadLetter(
        key="https://a.example/x",
        reason="http_404",
        error="HTTP 404",
        stage="fetch",
        url="https://a.example/x",
        feed_url="https://a.example/feed",
        title=None,
        failed_at=datetime(2026, 3, 10, tzinfo=UTC),
    )
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter
    assert letter.schema_version == 1


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("DE-de", "de"),
        (" fr ", "fr"),
        ("e", None),
        ("12", None),
        ("ελληνικά", None),
        ("", None),
        (None, None),
    ],
)
def test_feed_entry_language_code(language: str | None, code: str | None) -> None:
    assert make_entry(language=language).language_code == code
