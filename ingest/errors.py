"""The exception tree of ingest.

Every error the service raises on purpose derives from ``IngestError``. Third-party exceptions are
translated at the boundary (``raise FetchError(...) from exc``), so callers only ever match on these::

    IngestError
    ├── ConfigError                  bad configuration: fatal at start, names the key
    ├── UsageError                   bad input on the command line: an unreadable file, a bad URL
    ├── FatalError                   the service cannot go on (state store unusable, broker refused us)
    │   └── BrokerError              topics missing, authorisation refused
    │       └── BrokerUnavailable        no broker answers (the long-running service retries)
    ├── TransientError               a retry may cure it: the item is not acknowledged, it comes back
    │   ├── FetchTimeout             connect/read/total deadline passed
    │   ├── ConnectionFailed         DNS failure, refused or reset connection, TLS failure
    │   ├── ServerError              HTTP 5xx, 429
    │   ├── PublishTimeout           Kafka did not acknowledge in time
    │   ├── StateUnavailable         the state store did not answer (Redis down, SQLite busy or full)
    │   ├── RobotsUnavailable        the site's robots.txt cannot be fetched yet: its pages wait
    │   └── InFlightFailed           the same entry or text was in flight here and did not finish
    └── PermanentError               retrying cannot help: the item goes to the dead-letter topic
        ├── BlockedAddress           the URL resolves to an address we refuse to connect to
        │   └── BlockedPort              the URL names a port outside the allowed ones
        ├── InvalidUrl               a URL that cannot be requested (bad host name, over the length cap)
        ├── ClientError              HTTP 4xx other than 429
        ├── TooManyRedirects         more redirects than allowed, or a redirect loop
        ├── TooLarge                 body, headers or message over a configured limit
        ├── RecordRefused            the broker refused the message as invalid (a schema it checks)
        ├── UnsupportedContent       not HTML, not a feed, unknown scheme
        ├── ParseError               a feed or page that cannot be parsed
        ├── TaskTimeout              parsing or extraction overran its deadline (worker killed)
        ├── WorkerCrashed            the worker process died on this document
        │   └── OutOfMemory          the document exhausted the worker's memory limit
        ├── NoContent                neither the page nor the feed entry has usable text
        └── InternalError            an exception nobody translated (a bug): dead-lettered as ``internal``
    Disallowed                       robots.txt forbids the page: not a failure, the fetch stage skips it

Intentional filtering (duplicate, already seen) is not an error: it is a ``Drop`` with a reason
(see ``ingest.models``). The pipeline's runner (``ingest.runner``) is where an item's error becomes
its outcome: transient → retried later, permanent or internal → dead letter, fatal → the service
stops.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error raised by ingest. ``reason`` is a short, stable, label-safe code."""

    reason = "error"
    stage: str | None = None  # set by the pipeline where the error crossed a stage boundary

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (url={self.url})" if self.url else base


class Disallowed(IngestError):
    """robots.txt forbids fetching the URL. Raised inside the client, turned into a skipped fetch by
    the fetch stage (the entry goes on with the feed's own text): it never reaches a dead letter."""

    reason = "robots_txt"


class ConfigError(IngestError):
    reason = "config"


class UsageError(IngestError):
    """What a command was given cannot be used (a file it cannot read, a URL it cannot take)."""

    reason = "usage"


class FatalError(IngestError):
    reason = "fatal"


class BrokerError(FatalError):
    reason = "broker"


class BrokerUnavailable(BrokerError):
    reason = "broker_unavailable"


class TransientError(IngestError):
    reason = "transient"


class FetchTimeout(TransientError):
    reason = "timeout"


class ConnectionFailed(TransientError):
    """``kind`` narrows the reason: ``dns``, ``tls`` or ``connection``."""

    reason = "connection"

    def __init__(self, message: str, *, url: str | None = None, kind: str | None = None) -> None:
        super().__init__(message, url=url)
        if kind:
            self.reason = kind


class HttpStatusError(IngestError):
    """An HTTP answer we cannot use. Statuses in ``named`` get a reason of their own."""

    named: frozenset[int] = frozenset()

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int = 0,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said
        if status in self.named:
            self.reason = f"http_{status}"


class ServerError(HttpStatusError, TransientError):
    reason = "http_5xx"
    named = frozenset({429})


class PublishTimeout(TransientError):
    reason = "publish_timeout"


class StateUnavailable(TransientError):
    reason = "state_unavailable"


class RobotsUnavailable(TransientError):
    reason = "robots_unreachable"


class InFlightFailed(TransientError):
    reason = "duplicate_failed"


class PermanentError(IngestError):
    reason = "permanent"


class BlockedAddress(PermanentError):
    reason = "blocked_address"


class BlockedPort(BlockedAddress):
    reason = "blocked_port"


class InvalidUrl(PermanentError):
    reason = "invalid_url"


class ClientError(HttpStatusError, PermanentError):
    reason = "http_4xx"
    named = frozenset({404, 410})


class TooManyRedirects(PermanentError):
    reason = "too_many_redirects"


class TooLarge(PermanentError):
    reason = "too_large"


class UnsupportedContent(PermanentError):
    reason = "unsupported_content"


class ParseError(PermanentError):
    reason = "parse_error"


class TaskTimeout(PermanentError):
    reason = "task_timeout"


class WorkerCrashed(PermanentError):
    reason = "worker_crashed"


class OutOfMemory(WorkerCrashed):
    reason = "out_of_memory"


class RecordRefused(PermanentError):
    """The broker answered INVALID_RECORD for this message sent alone: it validates the topic's
    messages (a schema registry on the broker, or a compacted topic's rules) and this one fails."""

    reason = "refused_by_broker"


class NoContent(PermanentError):
    reason = "no_content"

    def __init__(self, message: str, *, url: str | None = None, detail: str | None = None) -> None:
        super().__init__(message, url=url)
        self.detail = detail  # why the page gave no text, when it was read at all


class InternalError(PermanentError):
    """An exception of one item that no code translated: a bug, ours or a library's. The item is
    dead-lettered with the exception's type in its error; the service goes on."""

    reason = "internal"

    @classmethod
    def wrap(cls, exc: BaseException, *, url: str | None = None) -> InternalError:
        return cls(f"{type(exc).__name__}: {exc}"[:1000], url=url)
