"""Where Prometheus finds the processes of a `loans up`: a port for each worker's /metrics, and a
file-based service discovery file (Prometheus `file_sd_configs`) listing every process.

The ports are chosen here, before the workers start, rather than reported by each worker once it
has bound one: the file is then complete before the first scrape, and a worker restarted after a
crash listens on the same port, so its series carry on under the same `instance`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from actors.contracts.config import Settings
from ops.embedded import free_port

FILE_NAME = "prometheus-targets.json"
PORT_VARIABLE = "LOANS_METRICS_PORT"


def metrics_ports(settings: Settings, names: list[str]) -> dict[str, int]:
    """A metrics port per worker name: free ports if LOANS_METRICS_PORT is 0, else that port and
    the ones after it, in order."""
    if settings.metrics_port == 0:
        return {name: free_port(settings.metrics_host) for name in names}
    return {name: settings.metrics_port + i for i, name in enumerate(names)}


def path_of(settings: Settings) -> Path:
    return settings.data_path / FILE_NAME


def write(settings: Settings, ports: dict[str, int], http_url: str) -> Path:
    """The file_sd file: one target group per process, labelled with its `process` name."""
    host = "127.0.0.1" if settings.metrics_host in ("0.0.0.0", "::", "") else settings.metrics_host
    edge = urlsplit(http_url)
    groups = [
        {"targets": [f"{host}:{port}"], "labels": {"process": name, "component": "worker"}}
        for name, port in ports.items()
    ]
    groups.append(
        {"targets": [f"{edge.hostname}:{edge.port}"], "labels": {"process": "edge", "component": "edge"}}
    )
    path = path_of(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups, indent=2) + "\n")
    os.replace(tmp, path)  # Prometheus watches the file: it must never see half of it
    return path


def remove(settings: Settings) -> None:
    path_of(settings).unlink(missing_ok=True)


def describe(settings: Settings, ports: dict[str, int], path: Path) -> str:
    """The lines `loans up` prints: each worker's metrics URL and the discovery file."""
    lines = [
        f"  metrics {name}  http://{settings.metrics_host}:{port}/metrics" for name, port in ports.items()
    ]
    return "\n".join([*lines, f"  Prometheus file_sd  {path}"])
