"""What the service holds: a state file (one instance), a status port (one-line errors), a state
store that may go away (not ready meanwhile, no tracebacks)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.kafka.embedded import free_port
from tests.support.deploy import Deploy
from tests.support.redis import redis_server
from tests.support.site import Site


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, err = process.communicate(timeout=60)
    return err


def test_a_second_instance_on_the_same_state_file_exits_at_once(deploy: Deploy, site: Site) -> None:
    deployment = deploy(["/feeds/world.rss"])
    first = deployment.start()
    try:
        deployment.wait_status("/readyz", 200, first)
        second = deployment.run("run", "--once", timeout=60)
        assert second.returncode == 1
        assert "in use by another running instance (process " in second.stderr
        assert "Traceback" not in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        _stop(first)


def test_a_status_port_in_use_is_one_line(deploy: Deploy, site: Site, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        deployment = deploy(["/feeds/world.rss"], metrics={"host": "127.0.0.1", "port": port})
        result = deployment.run("run", "--once", timeout=60)
    assert result.returncode == 1
    assert f"cannot serve metrics and status on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


class Redis:
    """A redis-server of this test's own, on one port, that the test stops and starts again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port("127.0.0.1")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self._workdir)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_not_ready_while_the_state_store_is_down_and_ready_again_after(
    deploy: Deploy, site: Site, redis: Redis, tmp_path: Path
) -> None:
    deployment = deploy(
        ["/feeds/world.rss"],
        state={"url": redis.url, "key_prefix": "readiness"},
        scheduler={"default_interval_s": 1, "min_interval_s": 1, "jitter": 0},
    )
    log = tmp_path / "service.log"
    process = deployment.start(log)
    try:
        deployment.wait_status("/readyz", 200, process)
        redis.stop()
        deployment.wait_status("/readyz", 503, process)
        _, body = deployment.get("/readyz")
        assert b"state store not answering" in body
        redis.start()
        deployment.wait_status("/readyz", 200, process)
    finally:
        process.terminate()
        code = process.wait(timeout=60)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    assert "state store not answering" in text
    assert "state store answers again" in text
