from __future__ import annotations

import pytest

from ingest.errors import (
    BlockedAddress,
    BrokerError,
    ClientError,
    ConfigError,
    FatalError,
    FetchTimeout,
    IngestError,
    NoContent,
    OutOfMemory,
    ParseError,
    PermanentError,
    ServerError,
    TaskTimeout,
    TransientError,
    WorkerCrashed,
)


@pytest.mark.parametrize(
    ("status", "reason"), [(404, "http_404"), (410, "http_410"), (400, "http_4xx"), (451, "http_4xx")]
)
def test_client_error_reason(status: int, reason: str) -> None:
    error = ClientError("HTTP", status=status)
    assert error.reason == reason
    assert error.status == status


@pytest.mark.parametrize(("status", "reason"), [(429, "http_429"), (500, "http_5xx"), (503, "http_5xx")])
def test_server_error_reason(status: int, reason: str) -> None:
    assert ServerError("HTTP", status=status).reason == reason


def test_reason_of_one_instance_does_not_leak_to_the_class() -> None:
    ClientError("HTTP 404", status=404)
    assert ClientError.reason == "http_4xx"
    assert ClientError("HTTP 403", status=403).reason == "http_4xx"


def test_message_names_the_url() -> None:
    assert str(NoContent("nothing", url="https://a.example/x")) == "nothing (url=https://a.example/x)"
    assert str(NoContent("nothing")) == "nothing"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConfigError, IngestError),
        (BrokerError, FatalError),
        (FetchTimeout, TransientError),
        (ServerError, TransientError),
        (BlockedAddress, PermanentError),
        (ClientError, PermanentError),
        (ParseError, PermanentError),
        (NoContent, PermanentError),
        (TaskTimeout, PermanentError),
        (OutOfMemory, WorkerCrashed),
        (WorkerCrashed, PermanentError),
    ],
)
def test_hierarchy(error: type[IngestError], kind: type[IngestError]) -> None:
    assert issubclass(error, kind)
    assert issubclass(error, IngestError)
    assert not (issubclass(error, TransientError) and issubclass(error, PermanentError))
