from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.times import dumps, rfc3339


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 12, 2, 7, 30, 0, 123456, tzinfo=UTC), "2026-12-02T07:30:00Z"),
        (datetime(2026, 12, 2, 8, 30, tzinfo=timezone(timedelta(hours=1))), "2026-12-02T07:30:00Z"),
        (datetime(2026, 12, 2, 7, 30), "2026-12-02T07:30:00Z"),  # naive: taken as UTC
        (1_764_660_600.25, "2025-12-02T07:30:00Z"),
    ],
)
def test_one_form_whatever_the_input(moment: datetime | float, text: str) -> None:
    assert rfc3339(moment) == text


def test_precise_keeps_milliseconds() -> None:
    assert (
        rfc3339(datetime(2026, 12, 2, 7, 30, 0, 123456, tzinfo=UTC), precise=True)
        == "2026-12-02T07:30:00.123Z"
    )


def test_json_writes_times_and_dates() -> None:
    value = {"at": datetime(2026, 12, 2, 7, 30, tzinfo=UTC), "day": date(2026, 12, 2), "n": 1}
    assert json.loads(dumps(value)) == {"at": "2026-12-02T07:30:00Z", "day": "2026-12-02", "n": 1}


@given(st.datetimes(timezones=st.timezones()))
def test_reads_back_as_the_same_instant(moment: datetime) -> None:
    text = rfc3339(moment, precise=True)
    assert text.endswith("Z")
    back = datetime.fromisoformat(text)
    assert abs(back - moment.astimezone(UTC)) < timedelta(milliseconds=1)
