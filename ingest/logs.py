"""Logging: one JSON object per event (containers, log shippers) or readable lines (terminals).

Events carry structured fields through ``extra=``: ``stage``, ``feed``, ``url``, ``error`` (the
exception class), ``reason``, ``duration_s``, ``outcome``, ``progress`` (a backfill's figures, an
object). JSON output has them as keys; text output
appends them as ``key=value``. Format ``auto`` picks text on a terminal, JSON otherwise.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

from ingest.times import json_default, rfc3339

FIELDS = ("stage", "feed", "url", "error", "reason", "duration_s", "outcome", "progress")
_NOISY = ("trafilatura", "htmldate", "courlan", "charset_normalizer", "readability")


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record carries."""
    return {name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": rfc3339(record.created, precise=True),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **fields(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=json_default)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return rfc3339(record.created, precise=True)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = fields(record)
        if not extra:
            return line
        head, newline, rest = line.partition("\n")  # keep a traceback below the fields
        pairs = " ".join(f"{k}={_short(v)}" for k, v in extra.items())
        return f"{head} [{pairs}]{newline}{rest}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=json_default)
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


class AboveBars:
    """A stream for log lines written while progress bars are drawn (tqdm): above them."""

    def write(self, text: str) -> int:
        from tqdm import tqdm

        if text.strip():
            tqdm.write(text.rstrip("\n"), file=sys.stderr)
        return len(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return True


def setup(level: str, fmt: str, stream: TextIO | AboveBars | None = None) -> None:
    """Install the one handler on the root logger. ``fmt``: text, json or auto."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "text" if stream.isatty() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The extraction libraries log each page they cannot read ("parsed tree length: 0", "discarding
    # data"); the service reports the item's outcome itself, with its reason. Theirs is for DEBUG.
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.CRITICAL)
    # kafka-python logs every lost connection, with tracebacks, many times a second while a broker
    # is away. The service reports the cause itself, once ("Kafka stopped acknowledging", "no Kafka
    # broker reachable"); the library's own account is for DEBUG only.
    logging.getLogger("kafka").setLevel(logging.DEBUG if level == "DEBUG" else logging.CRITICAL)
