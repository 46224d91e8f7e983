"""deploy/Dockerfile: read instruction by instruction (there is no Docker engine here), and its build
steps replayed outside a container: the package is built from exactly the files the image copies,
with the build metadata the image writes, and installed into a fresh environment."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.config import load_settings
from tests.deploy.conftest import DEPLOY, ROOT


@dataclass
class Instruction:
    stage: int
    command: str
    argument: str


def instructions() -> list[Instruction]:
    text = (DEPLOY / "Dockerfile").read_text()
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    found: list[Instruction] = []
    stage = -1
    for line in logical:
        if not line.strip():
            continue
        command, _, argument = line.strip().partition(" ")
        if command.upper() == "FROM":
            stage += 1
        found.append(Instruction(stage, command.upper(), argument.strip()))
    return found


def runtime() -> list[Instruction]:
    found = instructions()
    last = max(i.stage for i in found)
    return [i for i in found if i.stage == last]


def test_multi_stage_on_a_slim_base() -> None:
    bases = [i.argument for i in instructions() if i.command == "FROM"]
    assert len(bases) >= 2
    assert all("slim" in base for base in bases)
    copies = [i.argument for i in runtime() if i.command == "COPY"]
    assert any(c.startswith("--from=build /opt/ingest") for c in copies)


def test_runs_as_a_non_root_user_under_an_init() -> None:
    final = runtime()
    users = [i.argument for i in final if i.command == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    entry = json.loads(next(i.argument for i in final if i.command == "ENTRYPOINT"))
    assert entry[:2] == ["tini", "--"]
    assert entry[2] == "ingest"


def test_healthcheck_uses_the_service_command_and_no_curl() -> None:
    final = runtime()
    health = next(i.argument for i in final if i.command == "HEALTHCHECK")
    assert health.split("CMD", 1)[1].strip() == '["ingest", "healthcheck"]'
    text = " ".join(i.argument for i in final)
    assert "curl" not in text
    assert "wget" not in text


def test_state_is_a_volume_and_the_config_is_not() -> None:
    """A VOLUME over the configuration would pin the first image's default config in an anonymous
    volume across upgrades; it is mounted read-only instead (docker-compose.yml)."""
    volumes = [v for i in runtime() if i.command == "VOLUME" for v in json.loads(i.argument)]
    assert volumes == ["/var/lib/ingest"]


def test_installs_the_pinned_versions_without_the_embedded_broker() -> None:
    installs = [i.argument for i in instructions() if i.command == "RUN" and "pip install" in i.argument]
    package = [step for step in installs if "pip install -c deploy/constraints.txt ." in step]
    assert package, installs
    assert not any("[embedded]" in step or "calfkit" in step for step in installs)
    copied = [i.argument for i in instructions() if i.command == "COPY"]
    assert "deploy/constraints.txt ./deploy/constraints.txt" in copied


def test_image_environment_is_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in (i.argument for i in runtime() if i.command == "ENV"):
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            if key.startswith("INGEST_") and key != "INGEST_CONFIG":
                monkeypatch.setenv(key, value)
    settings = load_settings(DEPLOY / "ingest.yaml")
    assert settings.state.url == "sqlite:////var/lib/ingest/ingest.db"
    assert settings.metrics.host == "0.0.0.0"
    assert settings.log.format == "json"


def test_copied_files_exist_and_are_not_docker_ignored() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    for instruction in instructions():
        if instruction.command != "COPY" or instruction.argument.startswith("--from"):
            continue
        *sources, _ = instruction.argument.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored
            assert source.split("/")[0] not in ignored


@pytest.mark.timeout(600)
def test_build_steps_replayed_in_a_fresh_environment(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "ingest", source / "ingest", ignore=shutil.ignore_patterns("__pycache__", "build.json")
    )
    # The image's build-metadata step, as the Dockerfile writes it.
    step = next(i.argument for i in instructions() if i.command == "RUN" and "build.json" in i.argument)
    subprocess.run(
        ["bash", "-c", step],
        cwd=source,
        env={"REVISION": "0123abc", "CREATED": "2026-11-25T00:00:00Z", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    # A fresh environment that borrows the dependencies (not the package) from this one.
    target = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    site = next((target / "lib").glob("python3*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(target / "bin" / "python"),
            "install",
            "--quiet",
            "--no-deps",  # the package itself, built as the image builds it (isolated build)
            str(source),
        ],
        check=True,
        timeout=300,
    )
    version = subprocess.run(
        [str(target / "bin" / "ingest"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("ingest ")
    probe = subprocess.run(
        [
            str(target / "bin" / "python"),
            "-c",
            "import ingest, json; from ingest import build; "
            "print(json.dumps({'file': ingest.__file__, 'build': build.info()}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    found = json.loads(probe.stdout)
    assert found["file"].startswith(str(site))  # the installed copy, not the working tree
    assert found["build"] == {"revision": "0123abc", "created": "2026-11-25T00:00:00Z"}
