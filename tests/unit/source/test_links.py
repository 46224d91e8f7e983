from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import ParseError
from ingest.source.links import LINK_VERSION, decode_link, encode_link, link_key
from tests.unit.factories import make_entry


def test_a_link_carries_the_whole_entry() -> None:
    entry = make_entry(
        authors=("Ann Lee", "Bo Chan"),
        tags=("port",),
        feed_tags=("local",),
        published_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        summary="Ümlaut — and a dash",
    )
    assert decode_link(encode_link(entry)) == entry


def test_the_key_is_the_canonical_url_else_the_identity_key() -> None:
    entry = make_entry()
    assert link_key(entry) == (entry.canonical_url or "").encode()
    assert link_key(replace(entry, canonical_url=None)) == entry.key.encode()


def test_the_message_is_versioned_json() -> None:
    data = json.loads(encode_link(make_entry()))
    assert data["v"] == LINK_VERSION
    assert data["discovered_at"].endswith("+00:00")


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[]",
        json.dumps({"v": 2, "key": "k"}).encode(),
        json.dumps({"v": 1, "key": "k"}).encode(),  # fields missing
        b"\xff\xfe",
    ],
)
def test_anything_else_is_a_parse_error(value: bytes) -> None:
    with pytest.raises(ParseError):
        decode_link(value)


def test_a_naive_discovery_time_is_refused() -> None:
    data = json.loads(encode_link(make_entry()))
    data["discovered_at"] = "2026-03-01T10:00:00"
    with pytest.raises(ParseError):
        decode_link(json.dumps(data).encode())


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_parse_error(value: bytes) -> None:
    with contextlib.suppress(ParseError):
        decode_link(value)
