"""A minimal downstream consumer of the articles topic.

    pip install kafka-python jsonschema
    python examples/consumer.py --bootstrap 127.0.0.1:9092 --topic news.articles --group my-team

It joins a consumer group (run several copies to share the partitions), checks every message
against the published schema (schemas/article.v1.json), hands valid articles to ``handle`` and
commits offsets only after a batch is handled: at-least-once, like the service itself, so
``handle`` should be idempotent (the Kafka key and ``article["id"]`` are stable per article).
Invalid messages are reported on stderr and skipped; so are, silently, messages whose CloudEvents
header ``ce_dataschema`` names another schema than the one it checks against (a later major version).

``--idle-exit S`` stops after S seconds without messages once it has partitions (for scripts and
tests); without it, the consumer runs until interrupted. Prints a summary line as JSON on exit.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from kafka import KafkaConsumer

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "article.v1.json"


def handle(article: dict[str, Any]) -> None:
    """Do something with one valid article; here, print a line."""
    source = article["source"].get("site_name") or article["source"]["domain"]
    print(f"{article['id']}  {source}  {article.get('title') or '(untitled)'}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="news.articles")
    parser.add_argument("--group", default="example-consumer")
    parser.add_argument("--schema", type=Path, default=SCHEMA)
    parser.add_argument("--idle-exit", type=float, default=None, help="stop after S idle seconds")
    parser.add_argument(
        "--max-poll-interval-ms",
        type=int,
        default=300_000,
        help="also the rebalance timeout; some Kafka-compatible brokers wait all of it on a join",
    )
    args = parser.parse_args()

    schema = json.loads(args.schema.read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema)
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap.split(","),
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=args.max_poll_interval_ms,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    counts = {"valid": 0, "invalid": 0, "other_schema": 0}
    last_message = time.monotonic()
    try:
        while not stopping:
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    # CloudEvents headers say what a message is before its value is read: a
                    # message of another schema (a new major version) is not this consumer's.
                    headers = {name: value.decode("utf-8", "replace") for name, value in record.headers}
                    if headers.get("ce_dataschema", schema["$id"]) != schema["$id"]:
                        counts["other_schema"] += 1
                        continue
                    try:
                        article = json.loads(record.value)
                        validator.validate(article)
                    except (ValueError, ValidationError) as exc:  # report and skip
                        counts["invalid"] += 1
                        print(f"invalid message at offset {record.offset}: {exc}", file=sys.stderr)
                        continue
                    handle(article)
                    counts["valid"] += 1
            if batch:
                consumer.commit()  # after the batch is handled: at-least-once
                last_message = time.monotonic()
            elif not consumer.assignment():
                last_message = time.monotonic()  # still joining the group: not idle yet
            elif args.idle_exit is not None and time.monotonic() - last_message >= args.idle_exit:
                break
    finally:
        consumer.close()
    print(json.dumps(counts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
