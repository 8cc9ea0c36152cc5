"""The edge's /metrics: Prometheus text that counts the HTTP and NATS requests made."""

from __future__ import annotations

import uuid

import httpx
import pytest
from nats.aio.client import Client
from prometheus_client.parser import text_string_to_metric_families

from actors.contracts.errors import Unavailable
from edge.metrics import EdgeMetrics
from edge.nats_call import Bus
from tests.support.people import Cast

pytestmark = pytest.mark.anyio
HTTP = "loans_edge_http_request_duration_seconds"
NATS = "loans_edge_nats_request_duration_seconds"


def count(text: str, family: str, **labels: str) -> float:
    """The histogram's `_count` sample with these labels (0 when it has none yet)."""
    for metric in text_string_to_metric_families(text):
        if metric.name == family:
            for sample in metric.samples:
                if sample.name == f"{family}_count" and labels.items() <= sample.labels.items():
                    return sample.value
    return 0.0


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_count_requests_by_route_status_subject_and_outcome(
    client: httpx.AsyncClient, people: Cast
) -> None:
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/api/user/profile", headers=people.customer.headers)).status_code == 200
    wrong = {"email": people.customer.email, "password": "not-the-password-1"}
    assert (await client.post("/api/user/login", json=wrong)).status_code == 401
    assert (await client.get(f"/api/loan/{uuid.uuid4()}", headers=people.admin.headers)).status_code == 404
    assert (await client.get("/no/such/route")).status_code == 404
    after = await scrape(client)

    def grew(family: str, **labels: str) -> float:
        return count(after, family, **labels) - count(before, family, **labels)

    assert grew(HTTP, method="GET", route="/api/user/profile", status="200") == 3
    assert grew(NATS, subject="users.profile", outcome="ok") == 3
    assert grew(HTTP, method="POST", route="/api/user/login", status="401") == 1
    assert grew(NATS, subject="users.login", outcome="401") == 1  # the actor's error status
    assert grew(HTTP, method="GET", route="/api/loan/{loan_id}", status="404") == 1  # the template
    assert grew(HTTP, method="GET", route="unmatched", status="404") == 1  # never the raw path
    circuit = {
        s.labels["subject"]: s.value
        for m in text_string_to_metric_families(after)
        if m.name == "loans_edge_circuit_state"
        for s in m.samples
    }
    assert circuit["users.profile"] == 0  # no breaker yet: closed


async def test_no_responders_and_timeouts_are_outcomes_of_their_own(nc: Client) -> None:
    metrics = EdgeMetrics()
    bus = Bus(0.3, nc, metrics=metrics)
    nobody = f"nobody.{uuid.uuid4().hex}"
    with pytest.raises(Unavailable):
        await bus.request(nobody)
    silent = f"silent.{uuid.uuid4().hex}"
    sub = await nc.subscribe(silent)  # listens, never answers
    try:
        with pytest.raises(Exception, match="did not answer"):
            await bus.request(silent)
    finally:
        await sub.unsubscribe()
    text = metrics.render().decode()
    assert count(text, NATS, subject=nobody, outcome="no_responders") == 1
    assert count(text, NATS, subject=silent, outcome="timeout") == 1
