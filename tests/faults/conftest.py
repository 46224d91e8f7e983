"""Fault-injection fixtures: a broker each test may pause, kill and restart; the loopback site."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from ingest.kafka.embedded import EmbeddedBroker
from tests.support.deploy import Deploy, make_deploy
from tests.support.site import Site


class ControlledBroker:
    """A broker on a fixed loopback port that a test can pause, resume, kill and restart."""

    def __init__(self) -> None:
        self._broker = EmbeddedBroker("127.0.0.1", 0)
        self.bootstrap = self._broker.start()

    def _signal(self, signum: int) -> None:
        assert self._broker.pid is not None
        os.kill(self._broker.pid, signum)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        self._broker.stop()

    def restart(self, topics: tuple[str, ...] = ()) -> None:
        """Start again on the same port. Its storage is in memory, so the topics a durable broker
        would have kept are created again."""
        self._broker = EmbeddedBroker("127.0.0.1", self._broker.port)
        self._broker.start()
        if topics:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
            try:
                admin.create_topics([NewTopic(t, 3, 1) for t in topics])
            finally:
                admin.close()

    def stop(self) -> None:
        if self._broker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                self.resume()
        self._broker.stop()


@pytest.fixture
def broker() -> Iterator[ControlledBroker]:
    controlled = ControlledBroker()
    try:
        yield controlled
    finally:
        controlled.stop()


@pytest.fixture
def trap(site: Site) -> Iterator[Site]:
    """The same site on 127.0.0.2 (another loopback address the tests do not allow): any request it
    records is one the address guard should have refused."""
    running = Site(host="127.0.0.2", port=site.port).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def deploy(tmp_path: Path, broker: ControlledBroker, site: Site) -> Deploy:
    return make_deploy(tmp_path, broker.bootstrap, site)
