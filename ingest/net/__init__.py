"""Outbound HTTP for feeds and pages: one guarded client with limits on everything."""

from ingest.net.client import HttpClient, Response
from ingest.net.guard import AddressPolicy

__all__ = ["AddressPolicy", "HttpClient", "Response"]
