"""Prometheus configuration and alert rules: promtool checks them and runs their unit tests
(deploy/prometheus/tests), and every metric they name is one the service exports."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, exported_metric_names, metric_names_in, tool

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules" / "ingest.rules.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, check=False, cwd=PROMETHEUS, timeout=120
    )


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.fleet.yml"])
def test_prometheus_config_is_valid(config: str) -> None:
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_are_valid() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "tests/ingest.rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_and_has_a_runbook() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((PROMETHEUS / "tests" / "ingest.rules.test.yml").read_text())["tests"]
    tested = {
        case["alertname"]
        for group in tests
        for case in group["alert_rule_test"]
        if case.get("exp_alerts")  # a case where the alert fires
    }
    quiet = {
        case["alertname"]
        for group in tests
        for case in group["alert_rule_test"]
        if not case.get("exp_alerts")
    }
    names = {rule["alert"] for rule in rules}
    assert names == tested
    assert names == quiet
    operations = (DEPLOY.parent / "docs" / "OPERATIONS.md").read_text().lower()
    for rule in rules:
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert'].lower()}" in operations, f"no runbook section for {rule['alert']}"


def test_rules_name_only_exported_metrics() -> None:
    exported = exported_metric_names()
    for rule in yaml.safe_load(RULES.read_text())["groups"][0]["rules"]:
        assert metric_names_in(rule["expr"]) <= exported, rule["alert"]
