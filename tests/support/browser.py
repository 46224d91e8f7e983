"""Headless Chromium from the command line: the page as a browser renders it (DOM after load) and a
screenshot. Debian's ``chromium`` package; CI installs it (.ci/run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is required in CI (see .ci/run)")
    pytest.skip("chromium not installed")


def _run(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rendered_dom(url: str, profile: Path) -> str:
    """The document as the browser holds it once the page has loaded."""
    result = _run(profile, "--dump-dom", url)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(url: str, path: Path, profile: Path, size: str = "1280,1400") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    result = _run(profile, f"--window-size={size}", "--hide-scrollbars", f"--screenshot={path}", url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert path.exists(), result.stderr[-2000:]
    return path
