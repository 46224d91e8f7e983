"""Build metadata of an installed copy: the commit and time it was built from, when the build wrote
them (the container image does; see deploy/Dockerfile). Exported in ``ingest_build_info``."""

from __future__ import annotations

import contextlib
import json
from functools import cache
from importlib import resources

BUILD_FILE = "build.json"
FIELDS = ("revision", "created")


@cache
def info() -> dict[str, str]:
    """``{"revision": ..., "created": ...}``; "unknown" for what the build did not record."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(resources.files("ingest").joinpath(BUILD_FILE).read_text(encoding="utf-8"))
    if not isinstance(found, dict):
        found = {}
    return {field: str(found.get(field) or "unknown") for field in FIELDS}
