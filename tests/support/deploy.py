"""The service as a process under test: a config with fresh topics, run once or long-running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingest.kafka.embedded import free_port
from ingest.kafka.registry import topic_schemas
from tests.support.site import Site

Deploy = Callable[..., "Deployment"]


@dataclass
class Deployment:
    """One service configuration: fresh topics, its own state file and status port."""

    config: Path
    bootstrap: str
    topic: str
    dlq_topic: str
    status_port: int

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env(),
            check=False,
        )

    def start(self, log: Path | None = None) -> subprocess.Popen[str]:
        """Start ``ingest run``; stderr goes to ``log`` when given (read it after the process ends)."""
        command = [sys.executable, "-m", "ingest", "run", "--config", str(self.config)]
        if log is None:
            return subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env()
            )
        with log.open("a") as err:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env())

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            url = f"http://127.0.0.1:{self.status_port}{path}"
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_status(
        self, path: str, status: int, process: subprocess.Popen[str], limit_s: float = 60
    ) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            assert process.poll() is None, f"service exited with {process.returncode}"
            try:
                if self.get(path)[0] == status:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{path} never answered {status}")


def stop(process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    """Stop a service as an operator would (SIGTERM, then its drain); killed if it does not end."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}


def make_deploy(
    tmp_path: Path, bootstrap: str, site: Site, check: Callable[[dict[str, Any]], None] | None = None
) -> Deploy:
    """Factory: deploy(feeds=[paths], **section_overrides) writes a config, returns a ``Deployment``.
    ``check``, given each deployment's topics and their schemas, has the broker validate them."""

    def make(feeds: list[Any], **sections: dict[str, Any]) -> Deployment:
        suffix = uuid.uuid4().hex[:8]
        status_port = free_port("127.0.0.1")
        config: dict[str, Any] = {
            "feeds": [site.url(f) if isinstance(f, str) else {**f, "url": site.url(f["url"])} for f in feeds],
            "kafka": {
                "bootstrap_servers": bootstrap,
                "topic": f"articles-{suffix}",
                "dlq_topic": f"articles-{suffix}.dlq",
                "partitions": 3,
                "delivery_timeout_s": 20,
                "connect_timeout_s": 10,
            },
            "state": {"url": f"sqlite:///{tmp_path / 'state' / 'ingest.db'}"},
            "http": {"allow_private_networks": ["127.0.0.1/32"], "retries": 0, "min_host_delay_s": 0},
            "metrics": {"host": "127.0.0.1", "port": status_port},
            "pipeline": {"workers": 2},
        }
        for section, values in sections.items():
            if isinstance(config.get(section), dict):
                config[section] = {**config[section], **values}
            else:
                config[section] = values
        path = tmp_path / "ingest.yaml"
        path.write_text(yaml.safe_dump(config))
        kafka = config["kafka"]
        if check is not None:
            check(topic_schemas(kafka["topic"], kafka["dlq_topic"], kafka.get("latest_topic", "")))
        return Deployment(path, bootstrap, kafka["topic"], kafka["dlq_topic"], status_port)

    return make
