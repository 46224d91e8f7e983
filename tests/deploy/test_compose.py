"""docker-compose.yml, as Docker Compose itself reads it (``docker-compose config``; no engine)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ingest.config import PipelineSettings, load_settings
from tests.deploy.conftest import ROOT, tool


def _config(*files: str) -> dict[str, Any]:
    result = subprocess.run(
        [
            tool("docker-compose"),
            *(a for f in files for a in ("-f", str(ROOT / f))),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _config("docker-compose.yml")


@pytest.fixture(scope="module")
def fleet() -> dict[str, Any]:
    """The fleet laid over the main file, as the file's own comment says to run it."""
    return _config("docker-compose.yml", "deploy/compose.fleet.yml")


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]]


def test_the_stack_has_its_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", "kafka-topics", "ingest", "prometheus", "grafana"}
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:4.")


def test_every_published_port_is_on_loopback(compose: dict[str, Any]) -> None:
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert published
    assert all(p["host_ip"] == "127.0.0.1" for p in published), published


def test_kafka_runs_kraft_and_the_topics_are_created_once(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in compose["services"]["kafka"]
    topics = compose["services"]["kafka-topics"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert topics["restart"] == "no"
    script = " ".join(topics["command"])
    for name in ("news.articles", "news.articles.dlq"):
        assert f"--create --if-not-exists --topic {name} " in script
    assert "min.insync.replicas=1" in script
    assert "retention.ms=" in script


def test_ingest_waits_for_kafka_and_the_topics(compose: dict[str, Any]) -> None:
    ingest = compose["services"]["ingest"]
    assert ingest["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert ingest["depends_on"]["kafka-topics"]["condition"] == "service_completed_successfully"
    assert ingest["restart"] == "unless-stopped"
    assert ingest["build"]["dockerfile"] == "deploy/Dockerfile"


def test_stop_grace_outlasts_the_drain(compose: dict[str, Any]) -> None:
    grace = _seconds(compose["services"]["ingest"]["stop_grace_period"])
    assert grace > PipelineSettings().drain_timeout_s + 10


def test_ingest_environment_is_valid_configuration(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in compose["services"]["ingest"]["environment"].items():
        monkeypatch.setenv(key, value)
    settings = load_settings(ROOT / "deploy" / "ingest.yaml")
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.kafka.topic == "news.articles"
    assert settings.kafka.create_topics is False


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    binds = [
        Path(v["source"])
        for name in ("prometheus", "grafana")
        for v in compose["services"][name]["volumes"]
        if v["type"] == "bind"
    ]
    assert len(binds) == 3
    assert all(path.exists() for path in binds), binds


def test_the_fleet_runs_pollers_workers_and_redis(fleet: dict[str, Any]) -> None:
    services = fleet["services"]
    assert set(services) == {
        "kafka",
        "kafka-topics",
        "ingest",
        "ingest-worker",
        "redis",
        "prometheus",
        "grafana",
    }
    assert services["ingest"]["environment"]["INGEST_ROLE"] == "poller"
    assert services["ingest"]["deploy"]["replicas"] == 2
    assert services["ingest-worker"]["environment"]["INGEST_ROLE"] == "worker"
    assert services["ingest-worker"]["deploy"]["replicas"] == 3
    for name in ("ingest", "ingest-worker"):  # replicas cannot share a host port
        assert not services[name].get("ports")
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "--appendonly" in services["redis"]["command"]
    assert _seconds(services["ingest-worker"]["stop_grace_period"]) > PipelineSettings().drain_timeout_s + 10


def test_the_fleet_topics_are_created(fleet: dict[str, Any]) -> None:
    script = " ".join(fleet["services"]["kafka-topics"]["command"])
    for name in ("news.articles", "news.articles.dlq", "news.links", "news.feeds"):
        assert f"--create --if-not-exists --topic {name} " in script


@pytest.mark.parametrize(("service", "role"), [("ingest", "poller"), ("ingest-worker", "worker")])
def test_fleet_environment_is_valid_configuration(
    fleet: dict[str, Any], monkeypatch: pytest.MonkeyPatch, service: str, role: str
) -> None:
    for key, value in fleet["services"][service]["environment"].items():
        monkeypatch.setenv(key, value)
    settings = load_settings(ROOT / "deploy" / "ingest.yaml")
    assert settings.role == role
    assert settings.state.backend == "redis"
    assert settings.kafka.links_topic == "news.links"


def test_the_fleet_prometheus_config_exists(fleet: dict[str, Any]) -> None:
    command = fleet["services"]["prometheus"]["command"]
    config = next(c for c in command if c.startswith("--config.file=")).split("/")[-1]
    assert (ROOT / "deploy" / "prometheus" / config).is_file()


# Where each image keeps the data that must outlive its container, as the image documents it: the
# setting that moves it (an environment variable or a command-line flag), the image's default, and
# the directory relative paths are taken from.
_DATA_DIRS: dict[str, tuple[str, str, str]] = {
    # apache/kafka: KAFKA_LOG_DIRS sets log.dirs; the image's server.properties says /tmp/kraft-combined-logs.
    "kafka": ("env:KAFKA_LOG_DIRS", "/tmp/kraft-combined-logs", "/"),
    # prom/prometheus: --storage.tsdb.path, default data/ under the image's working directory /prometheus.
    "prometheus": ("flag:--storage.tsdb.path", "data/", "/prometheus"),
    # grafana/grafana: GF_PATHS_DATA, default /var/lib/grafana.
    "grafana": ("env:GF_PATHS_DATA", "/var/lib/grafana", "/"),
    # ingest: its SQLite state store, INGEST_STATE__URL (the image's ENV: /var/lib/ingest/ingest.db).
    "ingest": ("env:INGEST_STATE__URL", "sqlite:////var/lib/ingest/ingest.db", "/var/lib/ingest"),
}


def _data_dir(service: dict[str, Any], setting: str, default: str, workdir: str) -> str:
    kind, _, name = setting.partition(":")
    value = default
    if kind == "env":
        value = (service.get("environment") or {}).get(name, default)
    else:
        for arg in service.get("command") or []:
            if arg.startswith(f"{name}="):
                value = arg.split("=", 1)[1]
    if value.startswith("sqlite:///"):
        value = str(Path(value.removeprefix("sqlite:///")).parent)
    return str(Path(workdir) / value)  # an absolute value stays as it is


def test_all_data_lands_on_a_named_volume(compose: dict[str, Any]) -> None:
    """Topics, consumer offsets, the state store, metrics history and dashboards survive a
    recreated container: each service's data directory is inside one of its named volumes."""
    for name, (setting, default, workdir) in _DATA_DIRS.items():
        service = compose["services"][name]
        where = Path(_data_dir(service, setting, default, workdir))
        volumes = [Path(v["target"]) for v in service.get("volumes", []) if v["type"] == "volume"]
        assert any(where == v or v in where.parents for v in volumes), (name, str(where), volumes)


def test_the_configuration_is_mounted_read_only(compose: dict[str, Any]) -> None:
    mounts = {v["target"]: v for v in compose["services"]["ingest"]["volumes"]}
    config = mounts["/etc/ingest/ingest.yaml"]
    assert config["type"] == "bind"
    assert config["read_only"] is True
    assert Path(config["source"]) == ROOT / "deploy" / "ingest.yaml"
