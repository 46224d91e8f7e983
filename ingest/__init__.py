"""ingest: a streaming news-ingestion service (feeds to structured articles on Kafka)."""

__version__ = "0.2.0"
