"""The committed JSON Schemas as a broker-side registry: the embedded broker validates every
message a topic receives against its schema and refuses the rest (``INVALID_RECORD``, which the
producer raises as ``RecordRefused``).

The registry is a directory holding ``<topic>.json`` per checked topic: an object schema whose
``key`` and ``value`` properties are the schemas of the record's key and value, each compiled on its
own. A topic's file here has the message schema as ``value``, its ``$defs`` inside it (where its
``#/$defs/...`` references resolve), and no ``key``: article ids are not JSON and stay unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingest.models import ARTICLE_SCHEMA, DEAD_LETTER_SCHEMA, json_schema, schema_file_text

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def record_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The registry document for messages whose value follows ``schema``."""
    value = {k: v for k, v in schema.items() if k not in {"$id", "$schema"}}
    return {
        "$schema": _DIALECT,
        "title": f"Records of {schema.get('$id', schema.get('title', 'messages'))}",
        "type": "object",
        "properties": {"value": value},
    }


def topic_schemas(articles_topic: str, dlq_topic: str, latest_topic: str = "") -> dict[str, dict[str, Any]]:
    """The committed schema of each topic whose messages have one (links are internal)."""
    schemas = {articles_topic: json_schema(ARTICLE_SCHEMA), dlq_topic: json_schema(DEAD_LETTER_SCHEMA)}
    if latest_topic:
        schemas[latest_topic] = json_schema(ARTICLE_SCHEMA)
    return schemas


def write_registry(directory: Path, schemas: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``<topic>.json`` for each topic of ``schemas`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for topic, schema in schemas.items():
        if "/" in topic or topic in {"", ".", ".."}:
            raise ValueError(f"not a topic name for a registry file: {topic!r}")
        (directory / f"{topic}.json").write_text(schema_file_text(record_schema(schema)), encoding="utf-8")
