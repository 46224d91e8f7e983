"""The Grafana dashboard and its provisioning: well-formed, every query valid PromQL (promtool checks
them as recording rules) over metrics the service exports, panels laid out without overlap."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, exported_metric_names, metric_names_in, tool

GRAFANA = DEPLOY / "grafana"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GRAFANA / "dashboards" / "ingest.json").read_text())
    return loaded


def _queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def _as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in as Prometheus would receive it."""
    return expr.replace("$__rate_interval", "1m").replace("$instance", ".*")


def test_panels_have_unique_ids_and_do_not_overlap(dashboard: dict[str, Any]) -> None:
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, panel["title"]
        cells |= mine


def test_the_dashboard_covers_what_operators_watch(dashboard: dict[str, Any]) -> None:
    queries = " ".join(_queries(dashboard))
    for metric in (
        "ingest_articles_published_total",
        "ingest_stage_items_out_total",
        "ingest_stage_errors_total",
        "ingest_stage_items_dropped_total",
        "ingest_article_freshness_seconds_bucket",
        "ingest_feeds",
        "ingest_kafka_publish_duration_seconds_bucket",
        "ingest_kafka_messages_in_flight",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "ingest_worker_cpu_seconds_total",
        "ingest_worker_resident_memory_bytes",
    ):
        assert metric in queries, metric


def test_queries_name_only_exported_metrics(dashboard: dict[str, Any]) -> None:
    exported = exported_metric_names()
    for expr in _queries(dashboard):
        assert metric_names_in(expr) <= exported, expr


def test_queries_are_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": _as_promql(e)}
                    for i, e in enumerate(_queries(dashboard))
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_datasource_and_provisioning_agree(dashboard: dict[str, Any]) -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = sources["datasources"][0]["uid"]
    used = {p["datasource"]["uid"] for p in dashboard["panels"]}
    used |= {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert used == {uid}
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "ingest.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
