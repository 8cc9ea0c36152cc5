"""A worker's probe server: /metrics counts what the worker answered (the same figures as its
$SRV.STATS), reports its pool, connection, consumers and outbox; /health and /ready answer probes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import msgspec
import pytest
from nats.aio.client import Client
from prometheus_client.parser import text_string_to_metric_families

from actors.contracts.config import Settings
from actors.contracts.headers import ERROR_CODE_HEADER
from actors.runtime.metrics import WorkerMetrics
from actors.runtime.probe_server import ProbeServer
from actors.runtime.serving import ServingActor
from actors.runtime.worker import start_actor
from ops.embedded import free_port
from ops.registry import deployable

pytestmark = pytest.mark.anyio
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
async def users_with_probes(settings: Settings) -> AsyncIterator[tuple[ServingActor[Any], str]]:
    """A users worker of its own, its probe server on a known port."""
    port = free_port()
    async with AsyncExitStack() as stack:
        own = msgspec.structs.replace(settings, metrics_port=port)
        yield await start_actor(deployable("users"), own, stack), f"http://127.0.0.1:{port}"


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_count_what_the_worker_answered(
    users_with_probes: tuple[ServingActor[Any], str], nc: Client
) -> None:
    """Requests, 400s and durations per subject agree with the worker's own $SRV.STATS counters.

    Another users worker of the run may take some of the requests (one queue group): whatever
    this one took, its metrics and its STATS must say the same."""
    serving, url = users_with_probes
    for _ in range(20):
        assert ERROR_CODE_HEADER not in ((await nc.request("users.jwks", b"{}", timeout=5)).headers or {})
        refused = await nc.request("users.login", b"{not json", timeout=5)
        assert (refused.headers or {}).get(ERROR_CODE_HEADER) == "400"
    async with httpx.AsyncClient(base_url=url) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    samples = _samples(answer.text)
    for subject in ("users.jwks", "users.login"):
        served = serving.micro.endpoints[subject].num_requests
        assert served > 0
        assert _value(samples, "loans_actor_requests_total", actor="users", subject=subject) == served
        count = _value(samples, "loans_actor_request_duration_seconds_count", actor="users", subject=subject)
        assert count == served
    errors = _value(
        samples, "loans_actor_request_errors_total", actor="users", subject="users.login", status="400"
    )
    assert errors == serving.micro.endpoints["users.login"].num_requests  # every login here was refused
    assert (
        _value(samples, "loans_actor_request_errors_total", actor="users", subject="users.jwks", status="400")
        is None
    )


async def test_metrics_report_the_pool_the_connection_the_consumers_and_the_outbox(
    users_with_probes: tuple[ServingActor[Any], str], settings: Settings
) -> None:
    """The gauges read at the scrape: connected, pool within its bound, one lag per durable."""
    serving, url = users_with_probes
    async with httpx.AsyncClient(base_url=url) as http:
        samples = _samples((await http.get("/metrics")).text)
    assert _value(samples, "loans_actor_nats_connected", actor="users") == 1
    assert _value(samples, "loans_actor_concurrency_limit", actor="users") == settings.concurrency
    size = _value(samples, "loans_actor_db_pool_connections", actor="users")
    assert size is not None and 1 <= size <= settings.db_pool_max
    assert _value(samples, "loans_actor_db_pool_max_connections", actor="users") == settings.db_pool_max
    assert _value(samples, "loans_actor_outbox_pending_rows", actor="users") is not None
    assert _value(samples, "loans_actor_outbox_oldest_age_seconds", actor="users") is not None
    assert _value(samples, "loans_dead_letter_stream_messages", actor="users") is not None
    for sub in serving.actor.subscriptions:
        lag = _value(samples, "loans_actor_consumer_pending_messages", actor="users", consumer=sub.durable)
        assert lag is not None and lag >= 0, sub.durable
    assert not [key for key in samples if any(v.count("-") == 4 for _, v in key[1])], "a uuid as a label"


async def test_health_and_ready_answer_and_nothing_else_does(
    users_with_probes: tuple[ServingActor[Any], str],
) -> None:
    """/health and /ready are 200 on a connected worker; other paths 404, other methods 405."""
    _, url = users_with_probes
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/health")).json() == {"status": "alive"}
        assert (await http.get("/ready")).json() == {"status": "ready"}
        assert (await http.get("/nope")).status_code == 404
        assert (await http.post("/metrics")).status_code == 405


async def test_ready_is_503_when_the_worker_cannot_serve() -> None:
    """A probe server whose readiness check fails answers 503 on /ready, still 200 on /health."""

    async def not_ready() -> bool:
        return False

    server = ProbeServer(WorkerMetrics("probe", 1), not_ready)
    port = await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/ready")).status_code == 503
            assert (await http.get("/health")).status_code == 200
            assert (await http.get("/metrics")).status_code == 200  # nothing watched yet: only counters
    finally:
        await server.stop()
