from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import __version__
from ingest.cli import EXIT_CONFIG, EXIT_FATAL, EXIT_OK, main
from ingest.models import Article
from tests.unit.factories import DATA

# ``ingest extract`` imports the Kafka client, whose import warns about importlib.resources.
pytestmark = [
    pytest.mark.usefixtures("keep_root_logger"),  # the CLI installs its own log handler
    pytest.mark.filterwarnings("ignore:read_text is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
]

ARTICLE = DATA / "site" / "articles" / "council-budget.html"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ingest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_config_prints_the_settings_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "feeds.txt").write_bytes((DATA / "feedlists" / "feeds.txt").read_bytes())
    config = write_config(
        tmp_path,
        "feeds:\n  - https://news.example.org/world/rss.xml?utm_source=x\n"
        "feeds_file: lists/feeds.txt\nkafka:\n  sasl_username: svc\n",
    )
    monkeypatch.setenv("INGEST_KAFKA__SASL_PASSWORD", "s3cr3t-passw0rd")
    assert main(["check-config", "--config", str(config)]) == EXIT_OK
    out, err = capsys.readouterr()
    effective = json.loads(out)
    assert effective["kafka"]["sasl_username"] == "svc"
    assert effective["kafka"]["sasl_password"] == "**********"
    assert "s3cr3t-passw0rd" not in out + err
    # the config's feed, then the file's, de-duplicated by canonical URL
    assert [f["url"] for f in effective["feeds"]] == [
        "https://news.example.org/world/rss.xml?utm_source=x",
        "https://news.example.org/europe/rss.xml",
        "https://news.example.org/science/atom.xml",
    ]
    assert "configuration valid: 3 feeds" in err


def test_check_config_reads_the_config_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INGEST_CONFIG", str(write_config(tmp_path, "kafka:\n  topic: from.file\n")))
    assert main(["check-config"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["kafka"]["topic"] == "from.file"


def test_check_config_with_a_bad_value_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "kafka:\n  partitions: 0\n")
    assert main(["check-config", "-c", str(config)]) == EXIT_CONFIG
    out, err = capsys.readouterr()
    assert out == ""
    assert "configuration error" in err
    assert "kafka.partitions" in err
    assert "INGEST_" not in err  # the value came from the file, not from a variable


def test_check_config_with_a_bad_environment_value_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INGEST_HTTP__ALLOW_PRIVATE_NETWORKS", '["nonsense"]')
    assert main(["check-config"]) == EXIT_CONFIG
    assert "http.allow_private_networks" in capsys.readouterr().err


def test_check_config_with_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-c", str(tmp_path / "missing.yaml")]) == EXIT_CONFIG
    assert "cannot read config file" in capsys.readouterr().err


def test_check_config_with_a_bad_feeds_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "feeds.opml").write_bytes(b"<?xml version='1.0'?><opml><body><outline")
    config = write_config(tmp_path, "feeds_file: feeds.opml\n")
    assert main(["check-config", "-c", str(config)]) == EXIT_CONFIG
    assert "not valid OPML" in capsys.readouterr().err


def test_extract_prints_an_article(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(ARTICLE.read_bytes().replace(b"{{BASE}}", b"http://example.test"))
    url = "http://example.test/articles/council-budget.html?utm_source=rss"
    assert main(["extract", str(page), "--url", url]) == EXIT_OK
    article = Article.model_validate_json(capsys.readouterr().out)
    assert article.title == "Council approves 412 million euro budget after late-night vote"
    assert article.url == url
    assert article.canonical_url == "http://example.test/articles/council-budget.html"
    assert article.authors == ["Daniel Okafor"]
    assert article.language == "en"
    assert "The final vote, taken at 12:40 on Friday morning, was 27 to 25" in article.body
    assert article.extraction.method == "trafilatura"


def test_extract_of_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", str(tmp_path / "missing.html"), "--url", "https://a.example/x"]) == EXIT_CONFIG
    assert "cannot read" in capsys.readouterr().err


def test_extract_of_a_page_without_text_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "empty.html"
    page.write_bytes(b"<html><head><title>x</title></head><body></body></html>")
    assert main(["extract", str(page), "--url", "https://a.example/x"]) == EXIT_FATAL
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"ingest: error: no article text in {page}: no text on the page\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"ingest {__version__}"


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "required" in capsys.readouterr().err


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("INGEST_")}


def test_python_m_ingest_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_environment(),
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"ingest {__version__}"


def test_python_m_ingest_bad_config_exit_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_environment(), "INGEST_KAFKA__PARTITIONS": "0"},
        check=False,
    )
    assert result.returncode == EXIT_CONFIG
    assert "kafka.partitions" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["check-config"],
        ["healthcheck"],
        ["tail"],
        ["discover", "https://example.org/"],
        ["extract", str(ARTICLE), "--url", "https://example.org/a"],
    ],
)
def test_every_command_reads_the_config_it_is_given(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "kafka:\n  partitions: zero\n")
    assert main([*command, "--config", str(config)]) == EXIT_CONFIG
    assert "kafka.partitions" in capsys.readouterr().err


def test_tail_refuses_a_negative_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail", "-n", "-1", "--config", str(write_config(tmp_path, "{}\n"))]) == EXIT_CONFIG
    assert "--lines" in capsys.readouterr().err


def test_run_as_a_fleet_member_needs_redis_and_a_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "feeds: []\n")
    assert main(["run", "--config", str(config), "--role", "worker"]) == EXIT_CONFIG
    assert "redis://" in capsys.readouterr().err


def test_run_once_is_for_the_whole_pipeline_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        tmp_path, "state: {url: 'redis://127.0.0.1:1/0'}\nkafka: {bootstrap_servers: '127.0.0.1:1'}\n"
    )
    assert main(["run", "--config", str(config), "--role", "poller", "--once"]) == EXIT_CONFIG
    assert "--once" in capsys.readouterr().err
