"""Configuration: one frozen settings object, read once at start.

Sources, highest priority first: environment variables ``INGEST_<SECTION>__<KEY>`` (values of list
keys as JSON), then the YAML file, then the defaults below. Only ``ingest.cli`` calls ``load_settings``.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ingest import __version__
from ingest.errors import ConfigError

ENV_PREFIX = "INGEST_"
EMBEDDED = "embedded"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeedConfig(_Section):
    """One feed to poll. ``interval`` overrides the scheduler's default, in seconds."""

    url: str
    name: str | None = None
    tags: tuple[str, ...] = ()
    interval: float | None = Field(default=None, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"feed URL must be http or https: {value!r}")
        return value


class ConsumerSettings(_Section):
    """The consumer groups of a fleet: workers share the links topic, pollers the feeds."""

    worker_group: str = Field(default="ingest-workers", min_length=1)
    poller_group: str = Field(default="ingest-pollers", min_length=1)
    # Also the time a rebalance waits for members to rejoin. None: 3 s on the embedded broker
    # (which waits this long on every join), 30 s on Kafka. Members poll often, so either is safe.
    max_poll_interval_ms: int | None = Field(default=None, ge=1000)
    session_timeout_ms: int = Field(default=10_000, ge=1000)  # a dead member's share moves after this
    heartbeat_interval_ms: int = Field(default=2_000, ge=100)
    max_poll_records: int = Field(default=100, ge=1)
    # Links consumed and not yet committed, at most; fetching pauses beyond (memory stays bounded).
    max_uncommitted: int = Field(default=1000, ge=1)
    commit_interval_s: float = Field(default=1.0, gt=0)
    # How long a poller giving up feeds in a rebalance waits for their polls in flight to end.
    revoke_wait_s: float = Field(default=4.0, ge=0)

    @model_validator(mode="after")
    def _timeouts(self) -> ConsumerSettings:
        if self.heartbeat_interval_ms * 3 > self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be at most a third of session_timeout_ms")
        if self.revoke_wait_s * 1000 >= self.session_timeout_ms / 2:
            raise ValueError("revoke_wait_s must be under half of session_timeout_ms (heartbeats wait)")
        return self


class KafkaSettings(_Section):
    bootstrap_servers: str = EMBEDDED
    topic: str = "news.articles"
    dlq_topic: str = "news.articles.dlq"
    # Scale-out (roles poller and worker): new entries from pollers to workers, keyed by URL, and the
    # topic whose partitions divide the feeds among pollers (it carries no messages).
    links_topic: str = "news.links"
    feeds_topic: str = "news.feeds"
    # The latest version of each article, keyed by id, on a compacted topic ("" for none).
    latest_topic: str = ""
    feed_partitions: int = Field(default=24, ge=1)  # the most pollers that can share the feeds
    consumer: ConsumerSettings = ConsumerSettings()
    client_id: str = f"ingest-{__version__}"
    create_topics: bool = True
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    compression_type: Literal["lz4", "gzip", "zstd", "none"] = "lz4"
    linger_ms: int = Field(default=20, ge=0)
    max_in_flight_messages: int = Field(default=1000, ge=1)
    delivery_timeout_s: float = Field(default=120.0, gt=0)
    connect_timeout_s: float = Field(default=30.0, gt=0)
    max_request_size: int = Field(default=1_048_576, ge=1024)
    embedded_port: int = Field(default=9092, ge=0, le=65535)
    embedded_host: str = "127.0.0.1"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @field_validator("topic", "dlq_topic", "links_topic", "feeds_topic", "latest_topic")
    @classmethod
    def _topic_name(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "latest_topic" and not value:
            return value  # none
        legal = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        if not value or len(value) > 249 or not set(value) <= legal or value in (".", ".."):
            raise ValueError(f"not a legal Kafka topic name: {value!r}")
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str) -> str:
        value = value.strip()
        if value == EMBEDDED:
            return value
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected 'embedded' or host:port[,host:port...], got {value!r}")
        return value

    @model_validator(mode="after")
    def _distinct_topics(self) -> KafkaSettings:
        named = {"topic": self.topic, "dlq_topic": self.dlq_topic, "links_topic": self.links_topic}
        named |= {"feeds_topic": self.feeds_topic, "latest_topic": self.latest_topic}
        seen: dict[str, str] = {}
        for field, name in named.items():
            if not name:
                continue  # latest_topic: none
            if name in seen:
                raise ValueError(f"{field} and {seen[name]} are both {name!r}: each needs a topic of its own")
            seen[name] = field
        return self

    @model_validator(mode="after")
    def _delivery(self) -> KafkaSettings:
        if self.delivery_timeout_s * 1000 <= self.linger_ms + self.connect_timeout_s * 1000:
            raise ValueError(
                f"delivery_timeout_s ({self.delivery_timeout_s:g}) must exceed connect_timeout_s "
                f"({self.connect_timeout_s:g}) plus linger_ms ({self.linger_ms}) in seconds"
            )
        return self

    @property
    def embedded(self) -> bool:
        return self.bootstrap_servers == EMBEDDED

    @property
    def max_poll_interval_ms(self) -> int:
        chosen = self.consumer.max_poll_interval_ms
        return chosen if chosen is not None else (3_000 if self.embedded else 30_000)


class StateSettings(_Section):
    # sqlite:///PATH (one instance) or redis://[user:password@]host:port/db (shared by several).
    url: str = "sqlite:///data/ingest.db"
    # How long a seen key is kept after a feed last listed its entry, and a content hash and a
    # near-duplicate fingerprint after they were recorded.
    ttl_days: float = Field(default=30.0, gt=0)
    # Redis: prefix of every key, so that several deployments can share one database.
    key_prefix: str = Field(default="ingest", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "redis://", "rediss://")):
            raise ValueError(f"expected sqlite:///PATH or redis://host:port/db, got {value!r}")
        return value

    @property
    def backend(self) -> Literal["sqlite", "redis"]:
        return "sqlite" if self.url.startswith("sqlite:") else "redis"

    @property
    def sqlite_path(self) -> str:
        """``sqlite:///data/x.db`` is relative, ``sqlite:////var/x.db`` absolute."""
        return self.url.removeprefix("sqlite:///")


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


class HttpSettings(_Section):
    allow_private_networks: bool | tuple[str, ...] = False
    # Ports besides 80 and 443 that pages and feeds may be fetched from. A configured feed's own
    # port is allowed for it and for the pages it lists on its host.
    allowed_ports: tuple[int, ...] = ()
    user_agent: str = f"ingest/{__version__} (+https://github.com/ingest-news/ingest)"
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=20.0, gt=0)
    total_timeout_s: float = Field(default=45.0, gt=0)
    max_page_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_feed_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=30)
    max_connections: int = Field(default=100, ge=1)
    max_connections_per_host: int = Field(default=4, ge=1)
    # Politeness, per host and shared by feed polls and article fetches: requests start at least
    # this far apart, or as far apart as the host's robots.txt Crawl-delay asks, up to the cap.
    min_host_delay_s: float = Field(default=0.5, ge=0, le=60)
    robots_txt: bool = True  # honour robots.txt for article fetches
    # A site whose robots.txt cannot be fetched (5xx, unreachable): its pages wait this long for it
    # (their entries come back), then the feed's own text is published instead.
    robots_wait_s: float = Field(default=3600.0, ge=0, le=7 * 86400)
    max_crawl_delay_s: float = Field(default=10.0, ge=0, le=300)
    retries: int = Field(default=2, ge=0, le=10)

    @field_validator("allowed_ports")
    @classmethod
    def _ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [p for p in value if not 1 <= p <= 65535]
        if bad:
            raise ValueError(f"not TCP ports: {bad}")
        return value

    @field_validator("allow_private_networks")
    @classmethod
    def _cidrs(cls, value: bool | tuple[str, ...]) -> bool | tuple[str, ...]:
        if isinstance(value, bool):
            return value
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"not a CIDR range: {cidr!r}") from exc
        return value

    @property
    def private_allowance(self) -> bool | Networks:
        """True (all allowed), False (none) or the CIDR ranges allowed."""
        if isinstance(self.allow_private_networks, bool):
            return self.allow_private_networks
        return tuple(ipaddress.ip_network(c, strict=False) for c in self.allow_private_networks)


class MetricsSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class PipelineSettings(_Section):
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    max_articles_in_flight: int = Field(default=64, ge=1)
    max_feeds_in_flight: int = Field(default=16, ge=1)
    max_entries_per_poll: int = Field(default=500, ge=1)
    task_timeout_s: float = Field(default=30.0, gt=0)
    worker_memory_mb: int = Field(default=1024, ge=0)
    drain_timeout_s: float = Field(default=20.0, gt=0)


class SchedulerSettings(_Section):
    default_interval_s: float = Field(default=900.0, gt=0)
    min_interval_s: float = Field(default=60.0, gt=0)
    max_interval_s: float = Field(default=86_400.0, gt=0)
    jitter: float = Field(default=0.1, ge=0, le=0.5)

    @model_validator(mode="after")
    def _ordered(self) -> SchedulerSettings:
        if self.min_interval_s > self.max_interval_s:
            raise ValueError("min_interval_s must not exceed max_interval_s")
        return self


class DedupSettings(_Section):
    """Near-duplicates: the same story republished with another headline, intro or furniture.
    Exact copies (same text under another URL) are always dropped."""

    near_duplicates: Literal["link", "drop", "off"] = "link"
    # Share of the shorter text's shingles the other must hold: pages of different sites, of one site.
    containment: float = Field(default=0.35, gt=0, le=1)
    containment_same_site: float = Field(default=0.8, gt=0, le=1)
    window_days: float = Field(default=7.0, gt=0)
    min_words: int = Field(default=80, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "threshold_bits" in data:
            raise ValueError(
                "threshold_bits is no longer read: near-duplicates are matched by the share of text"
                " they hold in common; set containment (0-1, default 0.35) instead, or remove the key"
            )
        return data


class ArchiveSettings(_Section):
    """Every fetched article page (and, with ``feeds``, every changed feed document) written as
    WARC/1.1 records into rotating gzip files under ``dir``; off while ``dir`` is unset."""

    dir: Path | None = None
    feeds: bool = False
    max_file_mb: int = Field(default=1024, ge=1)
    max_file_age_s: float = Field(default=3600.0, gt=0)
    queue: int = Field(default=1000, ge=1)  # captures waiting for the disk; more are dropped (counted)


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # json: one object per event (containers); text: readable lines; auto: text on a terminal only.
    format: Literal["auto", "text", "json"] = "auto"


class Settings(BaseSettings):
    """The whole configuration. Build it with ``load_settings``."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
    )

    # all: one process polls and processes. poller / worker: a fleet sharing Kafka and a Redis state.
    role: Literal["all", "poller", "worker"] = "all"
    feeds: tuple[FeedConfig, ...] = ()
    feeds_file: Path | None = None
    kafka: KafkaSettings = KafkaSettings()
    state: StateSettings = StateSettings()
    http: HttpSettings = HttpSettings()
    metrics: MetricsSettings = MetricsSettings()
    pipeline: PipelineSettings = PipelineSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    dedup: DedupSettings = DedupSettings()
    archive: ArchiveSettings = ArchiveSettings()
    log: LogSettings = LogSettings()

    @field_validator("feeds", mode="before")
    @classmethod
    def _feed_strings(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"url": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _windows(self) -> Settings:
        if self.dedup.window_days > self.state.ttl_days:
            raise ValueError(
                f"dedup.window_days ({self.dedup.window_days}) must not exceed state.ttl_days "
                f"({self.state.ttl_days}): fingerprints would expire inside the window"
            )
        _check_role(self.role, self.state, self.kafka)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; the environment overrides it key by key.
        return (env_settings, init_settings)

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets masked (``SecretStr`` dumps as stars, a
        password in the state URL too)."""
        data = self.model_dump(mode="json")
        data["state"]["url"] = _URL_PASSWORD.sub(r"\1**********@", data["state"]["url"])
        return data


def _check_role(role: str, state: StateSettings, kafka: KafkaSettings) -> None:
    if role == "all":
        return
    if state.backend != "redis":
        raise ValueError(
            f"role {role!r} shares its state with the rest of the fleet: set state.url to "
            "redis://host:port/db (SQLite serves one process, role 'all')"
        )
    if kafka.embedded:
        raise ValueError(
            f"role {role!r} shares Kafka with the rest of the fleet: set kafka.bootstrap_servers "
            "(the embedded broker lives inside one process, role 'all')"
        )


_URL_PASSWORD = re.compile(r"^([a-z]+://[^:/@]*:)[^@/]*@")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys, not {type(data).__name__}")
    return data


def describe_errors(errors: Sequence[Mapping[str, Any]], environ: Mapping[str, str]) -> str:
    """Validation errors as one line a person can act on: the key as written in the file
    (``feeds[1].interval``), what is wrong with it and the value given; "did you mean" for an
    unknown key; the environment variable only when one of that name is set."""
    seen: dict[str, str] = {}
    for error in errors:
        path, model = _field_path(error.get("loc", ()))
        if path in seen:
            continue  # one message per key: a union's members each report it
        seen[path] = _problem(error, path, model, environ)
    return "; ".join(seen.values())


def _field_path(loc: Sequence[Any]) -> tuple[str, type[BaseModel] | None]:
    """The settings key a pydantic ``loc`` points at, without the union members it adds
    ("http.allow_private_networks.bool"), and the model holding its last part."""
    model: type[BaseModel] | None = Settings
    holder: type[BaseModel] | None = Settings
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        if model is None:  # inside a value that is not a section: the rest names union members
            break
        text += f".{part}" if text else str(part)
        holder = model
        if part not in model.model_fields:  # an unknown key of this section
            break
        model = _model_of(model.model_fields[part].annotation)
    return text or "(root)", holder


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds (itself, or in a tuple or list), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if (found := _model_of(arg)) is not None:
            return found
    return None


def _problem(
    error: Mapping[str, Any], path: str, model: type[BaseModel] | None, environ: Mapping[str, str]
) -> str:
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if path == "(root)":
        return message
    env = ENV_PREFIX + "__".join(p for p in re.split(r"\.|\[\d+\]", path) if p).upper()
    source = f" (set by {env})" if env in {k.upper() for k in environ} else ""
    if error.get("type") == "extra_forbidden":
        name = path.rsplit(".", 1)[-1].split("[", 1)[0]
        known = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {path[: len(path) - len(name)]}{close[0]}?" if close else ""
        return f"{path}: unknown key{source}{hint}"
    given = error.get("input")
    shown = f" (got {given!r})" if isinstance(given, str | int | float | bool) else ""
    return f"{path}: {message}{shown}{source}"


def load_settings(path: Path | None, *, role: str | None = None) -> Settings:
    """Read the YAML file (optional) and the ``INGEST_*`` environment into one frozen ``Settings``;
    ``role`` (the command line's) wins over both.

    Only the CLI calls this, so the process environment is read in one place, once.
    """
    data = _read_yaml(path) if path is not None else {}
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems = describe_errors(exc.errors(), os.environ)
        raise ConfigError(problems) from exc
    if settings.feeds_file is not None and path is not None and not settings.feeds_file.is_absolute():
        settings = settings.model_copy(update={"feeds_file": path.parent / settings.feeds_file})
    if role is not None:
        try:
            _check_role(role, settings.state, settings.kafka)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        settings = settings.model_copy(update={"role": role})
    return settings
