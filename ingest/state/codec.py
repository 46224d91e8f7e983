"""Feed state as JSON, the same in every backend."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from typing import Any

from ingest.models import Validators
from ingest.state.base import FeedState

_TIMES = ("last_polled_at", "last_success_at", "last_full_at", "first_success_at")


def encode_feed_state(state: FeedState) -> str:
    data = {f.name: getattr(state, f.name) for f in fields(FeedState) if f.name != "url"}
    data["validators"] = {"etag": state.validators.etag, "last_modified": state.validators.last_modified}
    for name in _TIMES:
        data[name] = data[name].isoformat() if data[name] else None
    return json.dumps(data)


def decode_feed_state(url: str, text: str) -> FeedState:
    """The state saved by ``encode_feed_state``; fields it does not know (a newer version's) are
    ignored, fields it lacks (an older version's) take their defaults."""
    data: dict[str, Any] = json.loads(text)
    known = {f.name for f in fields(FeedState)}
    values = {k: v for k, v in data.items() if k in known and k != "url"}
    values["validators"] = Validators(**values.get("validators", {}))
    values["children"] = tuple(values.get("children", ()))
    for name in _TIMES:
        values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
    return FeedState(url=url, **values)
