"""The Dockerfile the manifests' image comes from, read statically (no Docker engine runs here):
slim Python, a regular install, a non-root user the pods agree with, `loans` as the entrypoint."""

from __future__ import annotations

import json
import re
import tomllib

from tests.support.manifests import REPO, known_to_settings, ours, pod_spec

DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and not line.startswith("#"))
    ]


def _all(name: str) -> list[str]:
    return [args for instruction, args in _instructions() if instruction == name]


def _env() -> dict[str, str]:
    pairs = [pair.split("=", 1) for args in _all("ENV") for pair in args.split()]
    return {key: value for key, value in pairs}


def test_slim_python_at_least_the_projects_own() -> None:
    [base] = _all("FROM")  # one stage: nothing of a build stage to leave behind
    match = re.fullmatch(r"python:3\.(\d+)-slim(-\w+)?", base)
    assert match, base
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert int(match.group(1)) >= int(project["requires-python"].removeprefix(">=3."))


def test_a_regular_install_and_loans_as_the_entrypoint() -> None:
    assert any(re.search(r"\bpip install \.(\s|$)", run) for run in _all("RUN"))
    [entrypoint] = _all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["loans"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "loans" in project["scripts"]


def test_it_runs_as_the_non_root_user_the_pods_run_as() -> None:
    users = _all("USER")
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric, so runAsNonRoot can check it"
    for manifest, _ in ours():
        security = pod_spec(manifest)["securityContext"]
        assert security["runAsUser"] == int(uid), manifest
        assert security.get("runAsGroup", int(gid or uid)) == int(gid or uid), manifest


def test_its_environment_is_settings_and_points_at_what_it_copies() -> None:
    env = _env()
    assert all(known_to_settings(name) for name in env if name.startswith("LOANS_")), env
    destinations = {args.split()[-1] for args in _all("COPY")}
    assert env["LOANS_MIGRATIONS_DIR"] in destinations  # the SQL files `loans migrate` reads
    assert env["LOANS_DATA_DIR"].startswith("/tmp/")  # the one writable place in a pod (emptyDir)


def test_every_copied_path_exists_and_passes_the_dockerignore() -> None:
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "an allow-list: everything else stays out of the build context"
    for args in _all("COPY"):
        *sources, _ = args.split()
        for source in sources:
            assert (REPO / source).exists(), source
            assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"
