"""Topic administration: create the topics we publish to if missing, or say clearly they are absent."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ingest.config import KafkaSettings
from ingest.errors import BrokerError, BrokerUnavailable
from ingest.kafka.client import client_options

log = logging.getLogger(__name__)


def ensure_topics(settings: KafkaSettings, bootstrap: str, topics: dict[str, int]) -> None:
    """Blocking. ``topics``: name → partitions to create it with. Raises ``BrokerError`` when the
    broker is unreachable or a topic is absent."""
    try:
        admin = KafkaAdminClient(**client_options(settings, bootstrap))
    except KafkaError as exc:
        raise BrokerUnavailable(f"no Kafka broker reachable at {bootstrap}: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing and not settings.create_topics:
            raise BrokerError(
                f"Kafka topics absent: {', '.join(missing)} (create them, or set kafka.create_topics: true)"
            )
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, topics[topic], settings.replication_factor)])
                log.info(
                    "created topic %s (partitions=%d, replication=%d)",
                    topic,
                    topics[topic],
                    settings.replication_factor,
                )
            except TopicAlreadyExistsError:
                pass
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot list or create topics at {bootstrap}: {exc}") from exc
    finally:
        admin.close()
