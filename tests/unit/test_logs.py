from __future__ import annotations

import io
import json
import logging
import re

import pytest

from ingest import logs


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


pytestmark = pytest.mark.usefixtures("keep_root_logger")


def emit(fmt: str, stream: io.StringIO) -> str:
    logs.setup("INFO", fmt, stream)
    log = logging.getLogger("ingest.test")
    log.warning(
        "poll of %s failed",
        "https://a.example/rss",
        extra={"feed": "https://a.example/rss", "reason": "http_503"},
    )
    log.debug("not shown at INFO")
    return stream.getvalue()


def test_json_is_one_object_per_event_with_the_fields() -> None:
    lines = emit("json", io.StringIO()).splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["level"] == "warning"
    assert event["logger"] == "ingest.test"
    assert event["message"] == "poll of https://a.example/rss failed"
    assert event["feed"] == "https://a.example/rss"
    assert event["reason"] == "http_503"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])  # RFC 3339, UTC


def test_text_is_a_readable_line_with_the_fields_at_the_end() -> None:
    line = emit("text", io.StringIO()).strip()
    assert "WARNING ingest.test: poll of https://a.example/rss failed" in line
    assert line.endswith("[feed=https://a.example/rss reason=http_503]")


def test_auto_is_text_on_a_terminal_and_json_elsewhere() -> None:
    assert emit("auto", _Terminal()).lstrip()[0].isdigit()  # starts with the time
    assert json.loads(emit("auto", io.StringIO()))["reason"] == "http_503"


def test_a_traceback_stays_below_the_fields() -> None:
    stream = io.StringIO()
    logs.setup("INFO", "text", stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("ingest.test").exception("failed", extra={"stage": "fetch", "duration_s": 1.23456})
    first, *rest = stream.getvalue().splitlines()
    assert first.endswith("[stage=fetch duration_s=1.235]")
    assert rest[0].startswith("Traceback")
    assert rest[-1] == "ValueError: boom"


def test_text_lines_start_with_an_rfc3339_utc_time() -> None:
    line = emit("text", io.StringIO()).strip()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING ", line), line
