"""A real Prometheus scraping a system started as `loans up` starts it: every process is up, every
panel of the Grafana dashboard has data, and the "service down" alert goes pending, fires when the
workers are gone, and resolves once they are back."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.local_up import LocalUp, local_up
from tests.support.people import PASSWORD, new_email
from tests.support.polling import eventually_sync
from tests.support.prometheus import (
    alerts,
    prometheus_server,
    query,
    require_tool,
    rules_with_short_for,
)

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]
DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "loan-actors.json"
DOWN_FOR = 4  # seconds: LoansServiceDown's `for:` here (60 s in deploy/prometheus)


@dataclass
class Observed:
    up: LocalUp
    prometheus: str
    processes: set[str]  # the `process` label of every target in the file_sd file


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    require_tool("prometheus")
    data_dir = tmp_path_factory.mktemp("up-data")
    folder = tmp_path_factory.mktemp("prometheus")
    with local_up(data_dir) as up:
        targets = data_dir / "prometheus-targets.json"
        processes = {group["labels"]["process"] for group in json.loads(targets.read_text())}
        rules = rules_with_short_for(folder / "rules.yml", {"LoansServiceDown": f"{DOWN_FOR}s"})
        with prometheus_server(folder, targets, rules) as prometheus:
            yield Observed(up, prometheus, processes)


def _traffic(http: str) -> None:
    """A little of everything: signups, logins (one refused), reads on every actor, a 404."""
    with httpx.Client(base_url=http, timeout=10) as client:
        email = new_email("scrape")
        body = {"email": email, "password": PASSWORD, "first_name": "Pro", "last_name": "Metheus"}
        token = client.post("/api/user/signup", json={**body, "role": "customer"}).json()["data"][
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        for _ in range(5):
            assert (
                client.post("/api/user/login", json={"email": email, "password": PASSWORD}).status_code == 200
            )
            assert (
                client.post("/api/user/login", json={"email": email, "password": "not-it-at-all"}).status_code
                == 401
            )
            assert client.get("/api/user/profile", headers=auth).status_code == 200
            assert client.get("/api/loan/list-loans-customer", headers=auth).status_code == 200
            assert client.get("/api/servicing/business-date", headers=auth).status_code == 200
            assert (
                client.get(f"/api/loan/{'0' * 8}-0000-4000-8000-{'0' * 12}", headers=auth).status_code == 404
            )


def _panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"].replace("$__rate_interval", "1m"))
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_process_is_scraped_and_every_dashboard_panel_has_data(observed: Observed) -> None:
    """up == 1 for each process `loans up` listed; after some traffic, each panel query returns data."""
    assert {"users-0", "loans-0", "servicing-0", "edge"} <= observed.processes

    def all_up() -> bool:
        found = {s["metric"]["process"]: s["value"][1] for s in query(observed.prometheus, 'up{job="loans"}')}
        assert found == dict.fromkeys(observed.processes, "1"), found
        return True

    eventually_sync(all_up, timeout=30, interval=0.5, what="every process up")
    _traffic(observed.up.url)
    queries = _panel_queries()
    assert len(queries) >= 20

    def every_panel_has_data() -> bool:
        empty = [f"{title}: {expr}" for title, expr in queries if not query(observed.prometheus, expr)]
        assert not empty, empty
        return True

    eventually_sync(every_panel_has_data, timeout=30, interval=1.0, what="every panel with data")


def test_service_down_goes_pending_then_fires_and_resolves_when_the_workers_are_back(
    observed: Observed,
) -> None:
    """Workers killed (their supervisor paused, so it cannot restart them): pending, then firing,
    for each of them; the supervisor resumed restarts them, and the alerts resolve."""
    workers = observed.up.workers()
    supervisor = observed.up.process.pid
    assert sorted(workers.values()) == ["loans", "servicing", "users"], workers
    down = {f"{actor}-0" for actor in workers.values()}
    seen: dict[str, set[str]] = {process: set() for process in down}
    os.kill(supervisor, signal.SIGSTOP)  # `loans up` restarts a dead child after 1 s
    try:
        for pid in workers:
            os.kill(pid, signal.SIGKILL)

        def all_firing() -> bool:
            for alert in alerts(observed.prometheus, "LoansServiceDown"):
                seen.setdefault(alert["labels"]["process"], set()).add(alert["state"])
            assert all("firing" in states for process, states in seen.items() if process in down), seen
            return True

        eventually_sync(all_firing, timeout=DOWN_FOR + 20, interval=0.2, what="ServiceDown firing")
        assert all("pending" in seen[process] for process in down), f"never seen pending: {seen}"
        assert set(seen) == down, f"alerts for processes still up: {seen}"
    finally:
        os.kill(supervisor, signal.SIGCONT)

    def resolved() -> bool:
        still = [a["labels"]["process"] for a in alerts(observed.prometheus, "LoansServiceDown")]
        assert not still, still
        return True

    eventually_sync(resolved, timeout=45, interval=0.5, what="ServiceDown resolved")
    restarted = observed.up.workers()
    assert sorted(restarted.values()) == ["loans", "servicing", "users"] and not set(restarted) & set(workers)
