"""Run a program of ``examples/`` as a user would, and read the summary it prints last."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``examples/<name>`` with ``args``; it must exit 0. Returns the run and its JSON summary line."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stderr.strip().splitlines()[-1])
    return result, summary
