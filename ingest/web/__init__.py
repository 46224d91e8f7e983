"""The service's HTTP side: the server (/, /metrics, /healthz, /readyz, /feeds), the status page,
and the /feeds view."""

from ingest.web.feeds import feed_status
from ingest.web.server import RateWindow, StatusServer

__all__ = ["RateWindow", "StatusServer", "feed_status"]
