"""Topic administration: create the topics we publish to if missing, or say clearly they are absent."""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ingest.config import KafkaSettings
from ingest.errors import BrokerError, BrokerUnavailable
from ingest.kafka.client import client_options

log = logging.getLogger(__name__)

COMPACTED = {"cleanup.policy": "compact"}


def new_topic(settings: KafkaSettings, name: str, partitions: int) -> NewTopic:
    """The topic as the service creates it: the latest-versions topic compacted (one message, the
    last, kept per key), the others with the broker's defaults."""
    configs = COMPACTED if name == settings.latest_topic else {}
    return NewTopic(name, partitions, settings.replication_factor, topic_configs=dict(configs))


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
                created = new_topic(settings, topic, topics[topic])
                admin.create_topics([created])
                log.info(
                    "created topic %s (partitions=%d, replication=%d%s)",
                    topic,
                    topics[topic],
                    settings.replication_factor,
                    "".join(f", {k}={v}" for k, v in created.topic_configs.items()),
                )
            except TopicAlreadyExistsError:
                pass
        if settings.latest_topic in existing:
            _check_compacted(admin, settings.latest_topic)
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot list or create topics at {bootstrap}: {exc}") from exc
    finally:
        admin.close()


def _check_compacted(admin: KafkaAdminClient, topic: str) -> None:
    """Warn when an existing latest-versions topic is said not to be compacted: it would keep every
    version, not the last. A broker that does not report topic configs says nothing."""
    wanted = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"cleanup.policy": None})
    try:
        described: Any = admin.describe_configs([wanted], config_filter="all")
        policy = described.get("topic", {}).get(topic, {}).get("cleanup.policy", {}).get("value")
    except (KafkaError, AttributeError) as exc:  # AttributeError: an answer of another shape
        log.debug("cannot read the configuration of %s: %s", topic, exc)
        return
    if policy is not None and "compact" not in str(policy):
        log.warning(
            "topic %s has cleanup.policy=%s, not compact: it keeps every version of an article, "
            "not only the latest (kafka-configs --alter --add-config cleanup.policy=compact)",
            topic,
            policy,
        )
