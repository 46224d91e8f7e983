from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ingest.config import FeedConfig, HttpSettings, KafkaSettings, Settings, load_settings
from ingest.errors import ConfigError
from ingest.kafka.admin import new_topic


def write_config(folder: Path, text: str, name: str = "ingest.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    settings = load_settings(None)
    assert settings.feeds == ()
    assert settings.feeds_file is None
    assert settings.kafka.topic == "news.articles"
    assert settings.kafka.embedded
    assert settings.http.private_allowance is False
    assert settings.state.sqlite_path == "data/ingest.db"


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_settings(write_config(tmp_path, "")) == load_settings(None)


def test_yaml_values_are_read(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
kafka:
  bootstrap_servers: "broker-1:9092, broker-2:9092"
  topic: yaml.topic
  partitions: 3
scheduler:
  default_interval_s: 300
log:
  level: DEBUG
""",
    )
    settings = load_settings(path)
    assert settings.kafka.bootstrap_servers == "broker-1:9092, broker-2:9092"
    assert not settings.kafka.embedded
    assert settings.kafka.topic == "yaml.topic"
    assert settings.kafka.partitions == 3
    assert settings.scheduler.default_interval_s == 300.0
    assert settings.log.level == "DEBUG"


def test_environment_overrides_yaml_key_by_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, "kafka:\n  topic: yaml.topic\n  partitions: 3\n")
    monkeypatch.setenv("INGEST_KAFKA__TOPIC", "env.topic")
    settings = load_settings(path)
    assert settings.kafka.topic == "env.topic"
    # The rest of the section still comes from the file.
    assert settings.kafka.partitions == 3


def test_environment_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_KAFKA__TOPIC", "env.topic")
    monkeypatch.setenv("INGEST_HTTP__MAX_REDIRECTS", "7")
    settings = load_settings(None)
    assert settings.kafka.topic == "env.topic"
    assert settings.http.max_redirects == 7


def test_environment_list_values_are_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_HTTP__ALLOW_PRIVATE_NETWORKS", '["10.0.0.0/8", "127.0.0.1/32"]')
    settings = load_settings(None)
    assert settings.http.allow_private_networks == ("10.0.0.0/8", "127.0.0.1/32")
    assert settings.http.private_allowance == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    )


def test_environment_boolean_allows_all_private_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_HTTP__ALLOW_PRIVATE_NETWORKS", "true")
    assert load_settings(None).http.private_allowance is True


def test_non_strict_cidr_is_normalised() -> None:
    http = HttpSettings(allow_private_networks=("192.168.1.7/24",))
    assert http.private_allowance == (ipaddress.ip_network("192.168.1.0/24"),)


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("kafka:\n  partitions: 0\n", "kafka.partitions"),
        ("kafka:\n  partitions: many\n", "kafka.partitions"),
        ("kafka:\n  topic: 'not a topic!'\n", "kafka.topic"),
        ("kafka:\n  dlq_topic: '..'\n", "kafka.dlq_topic"),
        ("kafka:\n  bootstrap_servers: 'broker-without-port'\n", "kafka.bootstrap_servers"),
        ("kafka:\n  compression_type: brotli\n", "kafka.compression_type"),
        ("http:\n  allow_private_networks: ['not-a-cidr']\n", "http.allow_private_networks"),
        ("http:\n  max_redirects: 31\n", "http.max_redirects"),
        ("http:\n  total_timeout_s: 0\n", "http.total_timeout_s"),
        ("state:\n  url: 'postgres://db/ingest'\n", "state.url"),
        ("scheduler:\n  jitter: 0.9\n", "scheduler.jitter"),
        ("scheduler:\n  min_interval_s: 100\n  max_interval_s: 10\n", "scheduler"),
        ("log:\n  level: LOUD\n", "log.level"),
        ("dedup:\n  containment: 1.5\n", "dedup.containment"),
        ("dedup:\n  containment_same_site: 0\n", "dedup.containment_same_site"),
        ("feeds:\n  - ftp://news.example.org/feed\n", "feeds[0].url"),
        ("feeds:\n  - url: https://news.example.org/feed\n    interval: -5\n", "feeds[0].interval"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, yaml_text))
    message = str(caught.value)
    assert f"{key}:" in message
    assert caught.value.reason == "config"


def test_a_replaced_near_duplicate_key_says_what_replaced_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dedup: .*threshold_bits is no longer read.*containment"):
        load_settings(write_config(tmp_path, "dedup:\n  threshold_bits: 6\n"))
    settings = load_settings(write_config(tmp_path, "dedup:\n  containment: 0.5\n"))
    assert (settings.dedup.containment, settings.dedup.containment_same_site) == (0.5, 0.8)


def test_an_invalid_value_in_the_file_names_the_key_and_the_value_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, "kafka:\n  partitions: 0\n"))
    assert str(caught.value).startswith("kafka.partitions: ")
    assert "(got 0)" in str(caught.value)
    assert "INGEST_" not in str(caught.value)  # no variable of that name is set


def test_an_invalid_environment_value_names_the_key_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_KAFKA__PARTITIONS", "-1")
    with pytest.raises(
        ConfigError, match=r"^kafka\.partitions: .*\(got '-1'\) \(set by INGEST_KAFKA__PARTITIONS\)$"
    ):
        load_settings(None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "kafka:\n  bootstrap_server: x:9092\n",
            "kafka.bootstrap_server: unknown key; did you mean kafka.bootstrap_servers?",
        ),
        ("kafak:\n  topic: t\n", "kafak: unknown key; did you mean kafka?"),
        (
            "feeds:\n  - {url: 'https://a.example/rss', intervall: 60}\n",
            "feeds[0].intervall: unknown key; did you mean feeds[0].interval?",
        ),
        ("colour: blue\n", "colour: unknown key"),
    ],
)
def test_an_unknown_key_gets_a_suggestion(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, text))
    assert str(caught.value) == message


def test_a_value_of_a_union_is_reported_once_without_its_members(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, "http:\n  allow_private_networks: maybe\n"))
    text = str(caught.value)
    assert text.startswith("http.allow_private_networks: ")
    assert text.count("http.allow_private_networks") == 1
    assert "__BOOL" not in text
    assert "tuple" not in text
    assert "(got 'maybe')" in text


def test_an_unknown_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_HTTP__ALLOW_PRIVATE_NETWORK", "true")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert str(caught.value) == (
        "http.allow_private_network: unknown key (set by INGEST_HTTP__ALLOW_PRIVATE_NETWORK); "
        "did you mean http.allow_private_networks?"
    )


def test_invalid_environment_json_list_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_HTTP__ALLOW_PRIVATE_NETWORKS", '["300.1.1.1/8"]')
    with pytest.raises(ConfigError, match=r"http\.allow_private_networks"):
        load_settings(None)


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("colour: blue\n", "colour"),
        ("kafka:\n  topics: news\n", "kafka.topics"),
        ("http:\n  timeout: 3\n", "http.timeout"),
        ("feeds:\n  - url: https://news.example.org/feed\n    colour: red\n", "feeds[0].colour"),
    ],
)
def test_unknown_keys_are_rejected(tmp_path: Path, yaml_text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}: unknown key"):
        load_settings(write_config(tmp_path, yaml_text))


def test_unknown_environment_key_in_a_section_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_KAFKA__TOPICS", "news")
    with pytest.raises(ConfigError, match=r"kafka\.topics"):
        load_settings(None)


def test_settings_are_frozen() -> None:
    settings = load_settings(None)
    with pytest.raises(ValidationError):
        settings.kafka = KafkaSettings()  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.kafka.topic = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.http.retries = 9  # type: ignore[misc]
    assert settings.kafka.topic == "news.articles"


def test_feeds_as_strings_or_mappings(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
feeds:
  - "  https://news.example.org/world/rss.xml  "
  - url: https://news.example.org/science/atom.xml
    name: Science
    tags: [science, research]
    interval: 120
""",
    )
    feeds = load_settings(path).feeds
    assert feeds == (
        FeedConfig(url="https://news.example.org/world/rss.xml"),
        FeedConfig(
            url="https://news.example.org/science/atom.xml",
            name="Science",
            tags=("science", "research"),
            interval=120.0,
        ),
    )


def test_relative_feeds_file_is_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path / "etc" / "ingest", "feeds_file: lists/feeds.opml\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings(path).feeds_file == tmp_path / "etc" / "ingest" / "lists" / "feeds.opml"


def test_absolute_feeds_file_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "feeds" / "all.txt"
    path = write_config(tmp_path / "conf", f"feeds_file: {target}\n")
    assert load_settings(path).feeds_file == target


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read config file") as caught:
        load_settings(missing)
    assert str(missing) in str(caught.value)


def test_config_file_that_is_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write_config(tmp_path, "kafka: [unclosed\n"))


def test_config_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_settings(write_config(tmp_path, "- a\n- b\n"))


def test_masked_hides_secrets() -> None:
    settings = Settings(kafka=KafkaSettings(sasl_username="svc", sasl_password=SecretStr("hunter2")))
    masked = settings.masked()
    assert masked["kafka"]["sasl_username"] == "svc"
    assert masked["kafka"]["sasl_password"] == "**********"
    assert "hunter2" not in repr(masked)
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value() == "hunter2"


def test_state_must_outlive_the_near_duplicate_window() -> None:
    for url in ("redis://cache:6379/0", "sqlite:///x.db"):
        with pytest.raises(ValueError, match=r"dedup\.window_days"):
            Settings(state={"url": url, "ttl_days": 3}, dedup={"window_days": 7})  # type: ignore[arg-type]
    Settings(state={"url": "sqlite:///x.db", "ttl_days": 7}, dedup={"window_days": 7})  # type: ignore[arg-type]


def test_fleet_roles_need_a_shared_state_and_broker() -> None:
    with pytest.raises(ValidationError, match="redis://"):
        Settings(role="worker", kafka={"bootstrap_servers": "k:9092"})
    with pytest.raises(ValidationError, match="bootstrap_servers"):
        Settings(role="poller", state={"url": "redis://r:6379/0"})
    fleet = Settings(role="poller", state={"url": "redis://r:6379/0"}, kafka={"bootstrap_servers": "k:9092"})
    assert fleet.role == "poller"


def test_the_command_line_role_wins_and_is_checked(tmp_path: Path) -> None:
    shared = write_config(
        tmp_path, "role: poller\nstate: {url: 'redis://r:6379/0'}\nkafka: {bootstrap_servers: 'k:9092'}\n"
    )
    assert load_settings(shared, role="worker").role == "worker"
    alone = write_config(tmp_path / "alone", "feeds: []\n")
    assert load_settings(alone, role="all").role == "all"
    with pytest.raises(ConfigError, match="redis://"):
        load_settings(alone, role="worker")


def test_rebalance_timeout_defaults_to_the_broker_kind() -> None:
    assert KafkaSettings().max_poll_interval_ms == 3_000  # embedded: it waits this long on joins
    assert KafkaSettings(bootstrap_servers="k:9092").max_poll_interval_ms == 30_000
    chosen = KafkaSettings(bootstrap_servers="k:9092", consumer={"max_poll_interval_ms": 9000})
    assert chosen.max_poll_interval_ms == 9000


@pytest.mark.parametrize(
    "consumer",
    [
        {"heartbeat_interval_ms": 5000, "session_timeout_ms": 10000},
        {"revoke_wait_s": 6, "session_timeout_ms": 10000},
    ],
)
def test_group_timeouts_that_cannot_work_are_refused(consumer: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(consumer=consumer)


def test_a_delivery_timeout_kafka_would_refuse_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match=r"delivery_timeout_s .* must exceed connect_timeout_s"):
        KafkaSettings(delivery_timeout_s=20, connect_timeout_s=30)


def test_the_latest_topic_is_off_by_default_and_must_be_a_topic_of_its_own() -> None:
    assert KafkaSettings().latest_topic == ""
    assert KafkaSettings(latest_topic="news.articles.latest").latest_topic == "news.articles.latest"
    with pytest.raises(ValidationError, match="not a legal Kafka topic name"):
        KafkaSettings(latest_topic="news articles")
    with pytest.raises(ValidationError, match=re.escape("latest_topic and topic are both 'news.articles'")):
        KafkaSettings(latest_topic="news.articles")
    with pytest.raises(ValidationError, match="dlq_topic and topic are both"):
        KafkaSettings(dlq_topic="news.articles")


def test_only_the_latest_topic_is_created_compacted() -> None:
    settings = KafkaSettings(latest_topic="news.latest", replication_factor=3)
    latest, articles = new_topic(settings, "news.latest", 6), new_topic(settings, "news.articles", 6)
    assert (latest.name, latest.num_partitions, latest.replication_factor) == ("news.latest", 6, 3)
    assert latest.topic_configs == {"cleanup.policy": "compact"}
    assert articles.topic_configs == {}
