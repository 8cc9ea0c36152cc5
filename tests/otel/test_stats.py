"""`loans stats`: a row per subject per replica, from every replica's $SRV.STATS."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.runtime.serving import ServingActor
from ops.stats import EndpointStats, ReplicaStats, render, rows
from tests.support.processes import run_loans

pytestmark = pytest.mark.anyio


async def test_loans_stats_prints_a_row_per_subject_and_replica(
    settings: Settings, nc: Client, users_worker: ServingActor[Any], loans_worker: ServingActor[Any]
) -> None:
    for _ in range(3):
        await nc.request("users.jwks", b"", timeout=5)
    done = await asyncio.to_thread(run_loans, settings, "stats")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["subject", "replica", "requests", "errors", "avg", "ms", "total", "s"]
    table = {(cells[0], cells[1]): cells[2:] for cells in (line.split() for line in lines[1:])}
    for worker in (users_worker, loans_worker):
        for subject in worker.actor.routes:
            assert (subject, worker.micro.id) in table, (subject, lines)
    requests, errors, average_ms, total_s = table[("users.jwks", users_worker.micro.id)]
    assert int(requests) >= 3 and int(errors) == 0
    # The figures are this replica's own (nothing else asks users.jwks meanwhile), in their columns.
    own = users_worker.micro.endpoints["users.jwks"]
    assert own.processing_time_ns > 0
    assert int(requests) == own.num_requests
    assert float(average_ms) == pytest.approx(own.processing_time_ns / own.num_requests / 1e6, abs=0.005)
    assert float(total_s) == pytest.approx(own.processing_time_ns / 1e9, abs=0.005)


def test_replicas_of_one_subject_are_summed_in_an_all_row() -> None:
    replicas = [
        ReplicaStats(id="B", name="loans", endpoints=[EndpointStats("loans.get", 3, 1, 9_000_000)]),
        ReplicaStats(id="A", name="loans", endpoints=[EndpointStats("loans.get", 1, 0, 1_000_000)]),
    ]
    assert rows(replicas) == [
        ("loans.get", "A", "1", "0", "1.00", "0.00"),
        ("loans.get", "B", "3", "1", "3.00", "0.01"),
        ("loans.get", "all", "4", "1", "2.50", "0.01"),
    ]
    lines = render(rows(replicas)).splitlines()
    assert lines[1].split() == ["loans.get", "A", "1", "0", "1.00", "0.00"]
    assert len({len(line) for line in lines}) == 1  # numbers right-aligned under their headings
