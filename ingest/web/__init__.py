"""The service's HTTP side: the server (/, /metrics, /healthz, /readyz, /feeds), the status page,
and the /feeds view."""

from ingest.web.feeds import feed_status
from ingest.web.history import History
from ingest.web.server import StatusServer

__all__ = ["History", "StatusServer", "feed_status"]
