"""How the service writes a time, everywhere a person or a program reads one (logs, ``/feeds``, the
status page, ``ingest tail``): RFC 3339 in UTC, ``2026-12-02T07:30:00Z``, with milliseconds where
order within a second matters (logs). Articles on the topic use the same form (with microseconds
when the stated time has them)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any


def rfc3339(moment: datetime | float, *, precise: bool = False) -> str:
    """``moment`` (an aware datetime, a naive one taken as UTC, or Unix seconds) in UTC."""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if precise else "seconds")
    return text.removesuffix("+00:00") + "Z"


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: times as RFC 3339, dates as ISO 8601, the rest
    as text."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, default=json_default)
