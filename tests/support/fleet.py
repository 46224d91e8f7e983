"""A fleet under test: pollers and workers as separate processes sharing a broker and a Redis state."""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingest.kafka.embedded import free_port
from tests.support.deploy import env

# Short group timeouts: the test broker waits the whole rebalance timeout on every join, and a
# killed member's share should move within seconds.
CONSUMER = {
    "max_poll_interval_ms": 3000,
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 1000,
    "revoke_wait_s": 2,
    "commit_interval_s": 0.5,
}


@dataclass
class Fleet:
    """Writes one config per member (own status port and User-Agent) and starts members."""

    workdir: Path
    bootstrap: str
    redis_url: str
    feeds: list[str]
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return f"articles-{self.suffix}"

    @property
    def links_topic(self) -> str:
        return f"links-{self.suffix}"

    @property
    def key_prefix(self) -> str:
        return f"fleet-{self.suffix}"

    def config(self, name: str) -> Path:
        config: dict[str, Any] = {
            "feeds": self.feeds,
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "topic": self.topic,
                "dlq_topic": f"{self.topic}.dlq",
                "links_topic": self.links_topic,
                "feeds_topic": f"feeds-{self.suffix}",
                "partitions": 6,
                "feed_partitions": 12,
                "delivery_timeout_s": 20,
                "connect_timeout_s": 10,
                "consumer": {
                    **CONSUMER,
                    "worker_group": f"workers-{self.suffix}",
                    "poller_group": f"pollers-{self.suffix}",
                },
            },
            "state": {"url": self.redis_url, "key_prefix": self.key_prefix},
            "http": {
                "allow_private_networks": ["127.0.0.1/32"],
                "retries": 0,
                "min_host_delay_s": 0,
                "robots_txt": False,
                "user_agent": f"ingest-test/{name}",
            },
            "metrics": {"host": "127.0.0.1", "port": free_port("127.0.0.1")},
            "pipeline": {"workers": 1},
        }
        for section, values in self.sections.items():
            config[section] = {**config.get(section, {}), **values}
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start(self, name: str, role: str) -> subprocess.Popen[str]:
        """Start a member; its stderr goes to ``{name}.log`` in the work folder."""
        config = self.config(name)
        command = [sys.executable, "-m", "ingest", "run", "--config", str(config), "--role", role]
        with (self.workdir / f"{name}.log").open("a") as err:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env())
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """SIGKILL a member: no drain, no commit, no leaving the group."""
        process = self.processes.pop(name)
        process.kill()
        process.wait(timeout=30)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text()

    def logs(self) -> list[str]:
        """Every member started so far, killed ones too (by their log files)."""
        return [path.stem for path in self.workdir.glob("*.log")]

    def stop_all(self, timeout: float = 60) -> dict[str, int]:
        """SIGTERM every member still running; their exit codes."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        return {name: process.wait(timeout=timeout) for name, process in self.processes.items()}
