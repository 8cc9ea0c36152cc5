"""What the Prometheus tests stand on: Debian's promtool and prometheus (skipped on a machine
without them, a failure where LOANS_REQUIRE_TOOLS=1 says they must be there), a real Prometheus
server over a throwaway config, and its HTTP API."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ops.embedded import free_port
from tests.support.processes import stop, wait_ready

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
        wait_ready(process, f"{url}/-/ready", folder / "prometheus.log", timeout=30, interval=0.2)
        yield url
    finally:
        stop(process, signal.SIGTERM, timeout=15)
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
