"""The file `loans up` writes for Prometheus' file-based discovery, and the ports it gives workers."""

from __future__ import annotations

import json
from pathlib import Path

from actors.contracts.config import load_settings
from ops import scrape_targets

WORKERS = ["users-0", "loans-0", "loans-1"]


def test_a_fixed_metrics_port_numbers_the_workers_from_it(tmp_path: Path) -> None:
    """LOANS_METRICS_PORT=9100: the workers get 9100, 9101, 9102 in order."""
    settings = load_settings({}, data_dir=str(tmp_path), metrics_port=9100)
    assert scrape_targets.metrics_ports(settings, WORKERS) == {
        "users-0": 9100,
        "loans-0": 9101,
        "loans-1": 9102,
    }


def test_port_zero_gives_each_worker_a_port_of_its_own(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=str(tmp_path))
    ports = scrape_targets.metrics_ports(settings, WORKERS)
    assert len(set(ports.values())) == len(WORKERS) and all(port > 0 for port in ports.values())


def test_the_file_lists_every_worker_and_the_edge_as_file_sd_target_groups(tmp_path: Path) -> None:
    """Prometheus' file_sd format: a list of {targets: [host:port], labels: {...}}; 0.0.0.0 is
    scraped on the loopback address."""
    settings = load_settings({}, data_dir=str(tmp_path), metrics_host="0.0.0.0")
    path = scrape_targets.write(settings, {"users-0": 9100, "loans-0": 9101}, "http://127.0.0.1:8000")
    assert path == tmp_path / "prometheus-targets.json"
    assert json.loads(path.read_text()) == [
        {"targets": ["127.0.0.1:9100"], "labels": {"process": "users-0", "component": "worker"}},
        {"targets": ["127.0.0.1:9101"], "labels": {"process": "loans-0", "component": "worker"}},
        {"targets": ["127.0.0.1:8000"], "labels": {"process": "edge", "component": "edge"}},
    ]
    scrape_targets.remove(settings)
    assert not path.exists()
