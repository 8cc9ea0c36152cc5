"""What the Prometheus tests stand on: Debian's promtool and prometheus (skipped on a machine
without them, a failure where LOANS_REQUIRE_TOOLS=1 says they must be there), a real Prometheus
server over a throwaway config, and its HTTP API."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ops.embedded import free_port
from tests.support.polling import eventually_sync

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "loan-actors.yml"


def require_tool(name: str) -> str:
    """The path of `name` (a Debian `prometheus` package binary); skip or fail without it."""
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is missing (apt-get install prometheus)"
    if os.environ.get("LOANS_REQUIRE_TOOLS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def rules_with_short_for(target: Path, for_seconds: dict[str, str]) -> Path:
    """deploy/prometheus's rules, with the `for:` of the alerts named shortened (a test cannot wait 60 s)."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in for_seconds:
                rule["for"] = for_seconds[rule["alert"]]
    target.write_text(yaml.safe_dump(rules, sort_keys=False))
    return target


@contextmanager
def prometheus_server(folder: Path, targets_file: Path, rules_file: Path) -> Iterator[str]:
    """/usr/bin/prometheus scraping the file_sd `targets_file` every second, evaluating
    `rules_file` every second; yields its URL once it is ready, stops it at the end."""
    binary = require_tool("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules_file)],
        "scrape_configs": [{"job_name": "loans", "file_sd_configs": [{"files": [str(targets_file)]}]}],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (folder / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"prometheus exited: {(folder / 'prometheus.log').read_text()[-2000:]}")
            return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200

        eventually_sync(
            ready, timeout=30, interval=0.2, what="prometheus was not ready", ignoring=(httpx.TransportError,)
        )
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The instant vector (or scalar) `expr` evaluates to now, as Prometheus' API returns it."""
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = answer.json()
    assert body.get("status") == "success", f"{expr}: {body}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def alerts(url: str, name: str) -> list[dict[str, Any]]:
    """The pending and firing alerts called `name`, from Prometheus' /api/v1/alerts."""
    body = httpx.get(f"{url}/api/v1/alerts", timeout=10).json()
    return [alert for alert in body["data"]["alerts"] if alert["labels"].get("alertname") == name]


@contextmanager
def loans_up(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`loans up` as a newcomer runs it, with its own data dir and HTTP port; yields the process
    once the edge's /ready says the system is up and the file_sd file is written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANS_")}
    env.update(LOANS_DATA_DIR=str(data_dir), LOANS_BCRYPT_COST="4")
    log = (data_dir.parent / f"{data_dir.name}-up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "up", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"loans up exited while starting; see {log.name}")
            return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200

        eventually_sync(
            ready, timeout=90, interval=0.3, what="loans up was not ready", ignoring=(httpx.TransportError,)
        )
        yield process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)  # a test may have paused the supervisor
        process.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def worker_pids(parent: int) -> dict[int, str]:
    """The `loans worker` processes `parent` (a `loans up`) runs: pid → actor, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == parent and b"worker" in argv and fields[0] != "Z":
            found[int(stat.parent.name)] = argv[argv.index(b"worker") + 1].decode()
    return found
