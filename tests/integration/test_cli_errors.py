"""Every command, given bad input, as a person would run it (``python -m ingest`` in a process of
its own): one line on stderr that says what to do, the documented exit code, no traceback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.cli import EXIT_CONFIG, EXIT_FATAL, EXIT_OK, EXIT_SIGNAL, EXIT_USAGE


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ingest(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def _files(tmp_path: Path) -> dict[str, Path]:
    binary = tmp_path / "photo.html"
    binary.write_bytes(bytes(range(256)) * 8)  # no known signature: refused for its control bytes
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>Short.</p></body></html>")
    typo = tmp_path / "typo.yaml"
    typo.write_text("kafka:\n  bootstrap_server: localhost:9092\n")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("http:\n  allow_private_networks: maybe\n")
    offline = tmp_path / "offline.yaml"
    offline.write_text(
        f"kafka:\n  bootstrap_servers: 127.0.0.1:{_closed_port()}\n  connect_timeout_s: 2\n"
        f"  delivery_timeout_s: 10\nmetrics:\n  port: {_closed_port()}\n"
    )
    warc = tmp_path / "crawl.warc.gz"
    warc.write_bytes(b"")
    return {"binary": binary, "page": page, "typo": typo, "wrong": wrong, "offline": offline, "warc": warc}


# (arguments, exit code, what the line must say); {name} is one of the files above.
CASES = [
    (["bogus"], EXIT_USAGE, "invalid choice: 'bogus'"),
    (["extract", "{page}"], EXIT_USAGE, "the following arguments are required: --url"),
    (["extract", "{page}", "--url", "not a url"], EXIT_USAGE, "--url: not an http(s) URL"),
    (["extract", "missing.html", "--url", "https://x.example/a"], EXIT_USAGE, "cannot read missing.html"),
    (["extract", "{binary}", "--url", "https://x.example/a"], EXIT_FATAL, "not an HTML page: binary data"),
    (["check-config", "-c", "{typo}"], EXIT_CONFIG, "did you mean kafka.bootstrap_servers?"),
    (["check-config", "-c", "{wrong}"], EXIT_CONFIG, "http.allow_private_networks: "),
    (["check-config", "-c", "missing.yaml"], EXIT_CONFIG, "cannot read config file missing.yaml"),
    (["run", "--once", "--role", "worker"], EXIT_CONFIG, "set state.url to redis://"),
    (["run", "--role", "boss"], EXIT_USAGE, "invalid choice: 'boss'"),
    (["discover", "not a url"], EXIT_USAGE, "URL: not an http(s) URL"),
    (["healthcheck", "-c", "{offline}"], EXIT_FATAL, "unhealthy"),
    (["tail", "-n", "-1"], EXIT_USAGE, "--lines must be 0 or more"),
    (["tail", "-c", "{offline}"], EXIT_FATAL, "cannot reach Kafka at 127.0.0.1:"),
    (["backfill"], EXIT_USAGE, "the following arguments are required: SOURCE"),
    (["backfill", "missing.warc.gz"], EXIT_USAGE, "missing.warc.gz: no such file or directory"),
    (["backfill", "{page}"], EXIT_USAGE, "not an archive (.warc, .warc.gz, .arc, .arc.gz)"),
    (["backfill", "missing.paths"], EXIT_USAGE, "missing.paths: no such file"),
    (["backfill", "{warc}", "--since", "last week"], EXIT_USAGE, "not an ISO 8601 date or time: 'last week'"),
    (
        ["backfill", "{warc}", "--since", "2024-03-02", "--until", "2024-03-01"],
        EXIT_USAGE,
        "--since is after --until",
    ),
]


@pytest.mark.parametrize(("args", "code", "says"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_gives_one_clear_line(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    files = _files(tmp_path)
    result = ingest(*(a.format(**files) for a in args), cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    # tail says first what it waits for (a line of its own, not an error); the error is the last.
    notices = [line for line in lines[:-1] if line.startswith("ingest: waiting for Kafka")]
    assert lines[:-1] == notices, result.stderr
    assert lines[-1].startswith("ingest"), result.stderr
    assert says in lines[-1], result.stderr
    assert "ERROR" not in result.stderr  # no library's log lines
    assert result.stdout == ""


def test_tail_says_what_it_waits_for(tmp_path: Path) -> None:
    files = _files(tmp_path)
    result = ingest("tail", "-c", str(files["offline"]), cwd=tmp_path)
    assert result.returncode == EXIT_FATAL
    first = result.stderr.splitlines()[0]
    assert first.startswith("ingest: waiting for Kafka at 127.0.0.1:")
    assert "up to 2 s" in first


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    config = tmp_path / "idle.yaml"
    config.write_text(
        "feeds: []\nkafka:\n  bootstrap_servers: embedded\n  embedded_port: 0\n"
        f"state:\n  url: sqlite:///{tmp_path}/state.db\nmetrics:\n  port: 0\nlog:\n  format: text\n"
    )
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest", "run", "--config", str(config)], stdout=out, stderr=out
        )
    deadline = time.monotonic() + 120
    while "ingest running" not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the service did not start in 120 s"
        time.sleep(0.05)
    return process, log


@pytest.mark.parametrize("gap_s", [0.0, 0.02, 0.1])
def test_a_second_signal_during_teardown_exits_130_never_as_killed(tmp_path: Path, gap_s: float) -> None:
    process, log = _start(tmp_path)
    try:
        process.send_signal(signal.SIGTERM)
        time.sleep(gap_s)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code in (EXIT_OK, EXIT_SIGNAL), (code, log.read_text()[-2000:])  # -15 would be "killed"
