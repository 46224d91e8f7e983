"""Connection options shared by every kafka-python client we build."""

from __future__ import annotations

from typing import Any

from ingest.config import KafkaSettings


def client_options(settings: KafkaSettings, bootstrap: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap.split(","),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": int(settings.connect_timeout_s * 1000),
        "bootstrap_timeout_ms": int(settings.connect_timeout_s * 1000),
    }
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options
