"""Kafka: the embedded broker, topic administration, the acknowledged producer."""
