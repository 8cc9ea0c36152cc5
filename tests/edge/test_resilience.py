"""Retries, the circuit breaker and the general rate limit, against real NATS (and the real system).

The Bus tests answer on subjects of their own with test responders (a "worker" that loses its
first request, one that answers an error, nobody at all); the end-to-end ones go through the edge.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import nats
import pytest
from litestar import Litestar
from litestar.datastructures import State as AppState
from nats.aio.client import Client
from nats.aio.msg import Msg
from prometheus_client.parser import text_string_to_metric_families

from actors.bus import client as request_client
from actors.contracts.config import Settings
from actors.contracts.errors import ActorError, DeadlineExceeded, Unavailable
from actors.contracts.headers import DEADLINE_HEADER, ERROR_CODE_HEADER, ERROR_HEADER
from actors.runtime.db import role_dsn
from edge.app import create_app
from edge.breaker import Breakers, State
from edge.context import Edge
from edge.endpoint import Endpoint
from edge.errors import CircuitOpen, exception_to_http_response
from edge.forward import route_handler
from edge.metrics import EdgeMetrics
from edge.nats_call import Bus
from edge.retry import RetryPolicy
from ops.embedded import EmbeddedNats
from tests.support.people import Cast

pytestmark = pytest.mark.anyio
NATS = "loans_edge_nats_request_duration_seconds"


def sample(metrics: EdgeMetrics | str, family: str, suffix: str = "", **labels: str) -> float:
    text = metrics if isinstance(metrics, str) else metrics.render().decode()
    for metric in text_string_to_metric_families(text):
        if metric.name == family:
            for s in metric.samples:
                if s.name == family + suffix and labels.items() <= s.labels.items():
                    return s.value
    return 0.0


def subject() -> str:
    return f"test.resilience.{uuid.uuid4().hex}"


def bus_for(nc: Client, **policy: Any) -> tuple[Bus, EdgeMetrics]:
    timeout = policy.pop("timeout", 2.0)
    failures = policy.pop("failures", 100)
    cooldown = policy.pop("cooldown", 5.0)
    metrics = EdgeMetrics()
    breakers = Breakers(failures, cooldown, on_change=metrics.set_circuit)
    return Bus(timeout, nc, metrics, retry=RetryPolicy(**policy), breakers=breakers), metrics


async def test_a_lost_request_is_sent_again_with_the_same_headers_and_a_deadline_per_attempt(
    nc: Client,
) -> None:
    """The first attempt is never answered (its worker died); the second, within the deadline, is."""
    name, seen = subject(), []

    async def worker(msg: Msg) -> None:
        seen.append((time.time(), dict(msg.headers or {})))
        if len(seen) > 1:
            await nc.publish(msg.reply, b'{"ok":true}')

    sub = await nc.subscribe(name, queue="q", cb=worker)
    bus, metrics = bus_for(nc, attempt_timeout=0.3, timeout=2.0)
    try:
        started = time.monotonic()
        reply = await bus.request(name, b"{}", {"Idempotency-Key": "k-1"}, retry_safe=True)
        elapsed = time.monotonic() - started
    finally:
        await sub.unsubscribe()
    assert reply == b'{"ok":true}'
    assert 0.3 <= elapsed < 1.0
    assert [h["Idempotency-Key"] for _, h in seen] == ["k-1", "k-1"]
    for sent_at, headers in seen:  # each attempt's own end, not the whole request's
        assert int(headers[DEADLINE_HEADER]) / 1000 - sent_at == pytest.approx(0.3, abs=0.1)
    assert sample(metrics, "loans_edge_nats_retries", "_total", subject=name, outcome="timeout") == 1
    assert sample(metrics, NATS, "_count", subject=name, outcome="timeout") == 1
    assert sample(metrics, NATS, "_count", subject=name, outcome="ok") == 1


async def test_a_request_that_is_not_retry_safe_gets_one_attempt_with_the_whole_deadline(nc: Client) -> None:
    name, seen = subject(), []

    async def silent(msg: Msg) -> None:
        seen.append(msg)

    sub = await nc.subscribe(name, cb=silent)
    bus, _ = bus_for(nc, attempt_timeout=0.1, timeout=0.6)
    try:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await bus.request(name, b"{}")
        elapsed = time.monotonic() - started
    finally:
        await sub.unsubscribe()
    assert len(seen) == 1
    assert 0.6 <= elapsed < 0.9


async def test_retries_never_outlast_the_deadline(nc: Client) -> None:
    name, seen = subject(), []

    async def silent(msg: Msg) -> None:
        seen.append(msg)

    sub = await nc.subscribe(name, cb=silent)
    bus, _ = bus_for(nc, attempts=10, attempt_timeout=0.3, timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await bus.request(name, b"{}", retry_safe=True)
        elapsed = time.monotonic() - started
    finally:
        await sub.unsubscribe()
    assert 1.0 - 0.1 <= elapsed < 1.15
    assert 3 <= len(seen) <= 4  # 0.3 + 0.3 + 0.3 (+ what is left), pauses between


async def test_an_error_reply_is_an_answer_not_retried_and_no_fault_of_the_subject(nc: Client) -> None:
    name, seen = subject(), []

    async def refusing(msg: Msg) -> None:
        seen.append(msg)
        body = msgspec.json.encode({"code": "service_unavailable", "message": "db down", "details": None})
        await nc.publish(msg.reply, body, headers={ERROR_CODE_HEADER: "503", ERROR_HEADER: "db down"})

    sub = await nc.subscribe(name, cb=refusing)
    bus, _ = bus_for(nc, failures=2)
    try:
        for _ in range(4):
            with pytest.raises(ActorError, match="db down") as refused:
                await bus.request(name, b"{}", retry_safe=True)
            assert refused.value.status == 503
    finally:
        await sub.unsubscribe()
    assert len(seen) == 4
    assert bus.breakers[name].state is State.CLOSED


async def test_no_responders_is_retried_fast_then_opens_the_circuit_which_a_probe_closes(nc: Client) -> None:
    name = subject()
    bus, metrics = bus_for(nc, attempts=3, failures=5, cooldown=0.4)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="no worker"):
        await bus.request(name, b"{}", retry_safe=True)  # 3 attempts
    assert time.monotonic() - started < 0.5  # "at once": a few short pauses
    with pytest.raises(Unavailable, match="no worker"):
        await bus.request(name, b"{}", retry_safe=True)  # 2 more: the 5th failure opens it
    assert sample(metrics, NATS, "_count", subject=name, outcome="no_responders") == 5
    assert sample(metrics, "loans_edge_circuit_state", subject=name) == State.OPEN

    started = time.monotonic()
    with pytest.raises(CircuitOpen) as refused:
        await bus.request(name, b"{}", retry_safe=True)
    assert time.monotonic() - started < 0.01  # nothing was sent
    assert refused.value.status == 503 and refused.value.retry_after == 1
    # the second request's third attempt, and this one
    assert sample(metrics, NATS, "_count", subject=name, outcome="circuit_open") == 2

    async def worker(msg: Msg) -> None:
        await nc.publish(msg.reply, b"{}")

    sub = await nc.subscribe(name, queue="q", cb=worker)
    try:
        await asyncio.sleep(0.45)
        assert await bus.request(name, b"{}", retry_safe=True) == b"{}"  # the probe
        assert sample(metrics, "loans_edge_circuit_state", subject=name) == State.CLOSED
    finally:
        await sub.unsubscribe()


@pytest.fixture
async def lone_nats(tmp_path: Path) -> AsyncIterator[str]:
    """A NATS server where no worker listens."""
    server = EmbeddedNats(tmp_path)
    try:
        yield server.start()
    finally:
        server.stop()


async def test_through_the_edge_a_subject_without_workers_is_503_at_once_then_the_circuit_opens(
    settings: Settings, lone_nats: str
) -> None:
    tuned = msgspec.structs.replace(settings, nats_url=lone_nats, circuit_failures=4, circuit_cooldown=0.5)
    nc = await nats.connect(lone_nats)
    app = create_app(tuned, nc=nc, startup_wait=0.05)
    transport = httpx.ASGITransport(app=app)
    try:
        async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://edge") as edge:
            started = time.monotonic()
            first = await edge.get("/.well-known/jwks.json")
            assert time.monotonic() - started < 0.5
            assert (first.status_code, first.json()["error"]["code"]) == (503, "service_unavailable")
            await edge.get("/.well-known/jwks.json")  # 3 + 1 failures: open
            refused = await edge.get("/.well-known/jwks.json")
            assert refused.status_code == 503
            assert "circuit open" in refused.json()["message"]
            assert refused.headers["Retry-After"] == "1"
            text = (await edge.get("/metrics")).text
            assert sample(text, "loans_edge_circuit_state", subject="users.jwks") == State.OPEN

            async def users_worker(msg: Msg) -> None:
                await nc.publish(msg.reply, b'{"keys":[]}')

            await nc.subscribe("users.jwks", queue="users", cb=users_worker)
            await asyncio.sleep(0.55)
            healed = await edge.get("/.well-known/jwks.json")
            assert (healed.status_code, healed.json()) == (200, {"keys": []})
            text = (await edge.get("/metrics")).text
            assert sample(text, "loans_edge_circuit_state", subject="users.jwks") == State.CLOSED
    finally:
        await nc.close()


async def test_a_write_without_a_key_gets_one_from_the_edge(
    client: httpx.AsyncClient, people: Cast, settings: Settings
) -> None:
    """The edge keyed the create: the actor stored its answer under that key, with the write."""
    created = await client.post(
        "/api/loan/customer-loan",
        json={"customer_id": people.customer.id, "principal": 20000, "months": 6},
        headers=people.agent.headers,
    )
    assert created.status_code == 201
    loan_id = created.json()["data"]["id"]
    con = await asyncpg.connect(role_dsn(settings, "loans"))
    try:
        keys = await con.fetch(
            "SELECT key FROM loans.idempotency WHERE caller = $1 AND subject = 'loans.create'"
            " AND convert_from(reply, 'UTF8') LIKE $2",
            uuid.UUID(people.agent.id),
            f"%{loan_id}%",
        )
    finally:
        await con.close()
    assert len(keys) == 1 and uuid.UUID(hex=keys[0]["key"])


async def test_the_edge_keeps_a_key_the_client_sent(nc: Client, settings: Settings) -> None:
    """And keys every write (POST, PUT, DELETE) that came without one, reads never."""
    name, seen = subject(), []

    async def worker(msg: Msg) -> None:
        seen.append((msg.subject, (msg.headers or {}).get("Idempotency-Key")))
        await nc.publish(msg.reply, b"{}")

    sub = await nc.subscribe(f"{name}.>", cb=worker)
    edge = Edge.build(settings)
    edge.bus.nc = nc
    endpoints = [
        Endpoint(method, f"/{method.lower()}", f"{name}.{method.lower()}", "ok", public=True)
        for method in ("GET", "POST", "PUT", "DELETE")
    ]
    app = Litestar(
        [route_handler(ep) for ep in endpoints],
        state=AppState({"edge": edge}),
        exception_handlers={Exception: exception_to_http_response},
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as http:
            for method in ("GET", "POST", "PUT", "DELETE"):
                assert (await http.request(method, f"/{method.lower()}", json={})).status_code < 300
            sent = await http.post("/post", json={}, headers={"Idempotency-Key": "mine"})
            assert sent.status_code < 300
    finally:
        await sub.unsubscribe()
    keys = dict(seen[:4])
    assert keys[f"{name}.get"] is None
    assert all(len(keys[f"{name}.{m}"] or "") == 32 for m in ("post", "put", "delete"))
    assert seen[4] == (f"{name}.post", "mine")


async def test_the_general_limit_answers_429_with_retry_after(
    nc: Client, settings: Settings, users_worker: Any
) -> None:
    app = create_app(msgspec.structs.replace(settings, requests_per_minute=3), nc=nc, startup_wait=0.05)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as edge,
    ):
        answers = [await edge.get("/.well-known/jwks.json") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[3].json()["error"]["code"] == "rate_limited"
        assert answers[3].headers["Retry-After"] == "20"
        refused = await edge.post("/api/user/login", json={"email": "a@b.co", "password": "12345678"})
        assert refused.status_code == 429
        assert (await edge.get("/health")).status_code == 200  # service endpoints are not limited
        assert (await edge.get("/metrics")).status_code == 200


async def test_a_create_whose_reply_is_lost_is_asked_again_and_makes_one_loan(
    nc: Client, settings: Settings, people: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real loans worker makes the loan, but its answer never reaches the edge (as when the
    worker dies between its commit and its reply). The edge's retry carries the key it made for
    the first attempt, and the worker answers it with that same loan."""
    app = create_app(settings, nc=nc, startup_wait=5)
    send = request_client._send  # one attempt on the wire, its headers built (deadline included)
    lost: list[tuple[dict[str, str], bytes]] = []

    async def losing_the_first_reply(
        bus_nc: Client | None, subject: str, payload: bytes, sent: dict[str, str], timeout: float
    ) -> tuple[str, ActorError | None, bytes]:
        if subject != "loans.create" or lost:
            return await send(bus_nc, subject, payload, sent, timeout)
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, max_msgs=1)
        await nc.publish(subject, payload, reply=inbox, headers=sent)
        reply = await sub.next_msg(timeout)  # done and committed; the edge never sees it
        lost.append((sent, reply.data))
        return "timeout", DeadlineExceeded("the service did not answer in time"), b""

    monkeypatch.setattr(request_client, "_send", losing_the_first_reply)
    principal = "31415.92"
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as edge,
    ):
        created = await edge.post(
            "/api/loan/customer-loan",
            json={"customer_id": people.customer.id, "principal": principal, "months": 12},
            headers=people.agent.headers,  # no Idempotency-Key
        )
        text = (await edge.get("/metrics")).text
    assert created.status_code == 201, created.text
    ((first_headers, first_reply),) = lost
    assert "Idempotency-Key" in first_headers
    assert created.json()["data"]["id"] == msgspec.json.decode(first_reply)["id"]
    assert sample(text, "loans_edge_nats_retries", "_total", subject="loans.create", outcome="timeout") == 1
    con = await asyncpg.connect(role_dsn(settings, "loans"))
    try:
        made = await con.fetchval(
            "SELECT count(*) FROM loans.loans WHERE agent_id = $1 AND principal = $2",
            uuid.UUID(people.agent.id),
            Decimal(principal),
        )
    finally:
        await con.close()
    assert made == 1


async def test_a_nul_character_in_a_signup_or_login_is_400_and_writes_nothing(
    client: httpx.AsyncClient,
) -> None:
    """Found by schemathesis: a NUL reached Postgres, which cannot store it, and came back as a 500."""
    email = f"nul-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "password-1", "first_name": "A\u0000", "last_name": "B"}
    refused = await client.post("/api/user/signup", json={**body, "role": "customer"})
    assert (refused.status_code, refused.json()["error"]["details"]) == (400, {"field": "first_name"})
    login = await client.post("/api/user/login", json={"email": f"x\u0000{email}", "password": "password-1"})
    assert login.status_code == 400
    assert (
        await client.post("/api/user/login", json={"email": email, "password": "password-1"})
    ).status_code == 401


async def test_timeouts_of_a_slow_subject_do_not_open_its_circuit(nc: Client) -> None:
    """A login storm: bcrypt keeps the workers busy past the deadline; that is load, not a dead
    subject, so logins keep being tried instead of getting 503 from an open circuit."""
    name = subject()

    async def busy(msg: Msg) -> None:
        return None  # never answers in time

    sub = await nc.subscribe(name, cb=busy)
    bus, _ = bus_for(nc, attempts=1, attempt_timeout=0.1, timeout=0.1, failures=2)
    try:
        for _ in range(4):
            with pytest.raises(DeadlineExceeded):
                await bus.request(name, b"{}", slow=True)
        assert bus.breakers[name].state is State.CLOSED
        for _ in range(2):
            with pytest.raises(DeadlineExceeded):
                await bus.request(name, b"{}")
        assert bus.breakers[name].state is State.OPEN  # the same timeouts on an ordinary subject
    finally:
        await sub.unsubscribe()


async def test_timeouts_that_a_retry_recovers_on_another_replica_do_not_open_the_circuit(nc: Client) -> None:
    """A replica frozen with every in-flight request on it (a closed-loop load ends up there): each
    first attempt times out, its retry is answered by the twin. The subject is served, so the
    circuit stays closed; only requests that fail for good count against it."""
    name, seen = subject(), set()

    async def worker(msg: Msg) -> None:
        key = (msg.headers or {})["Idempotency-Key"]
        if key not in seen:  # the first attempt went to the frozen replica
            seen.add(key)
            return
        await nc.publish(msg.reply, b"{}")

    sub = await nc.subscribe(name, queue="q", cb=worker)
    bus, metrics = bus_for(nc, attempts=2, attempt_timeout=0.2, timeout=1.0, failures=2)
    try:
        answers = await asyncio.gather(
            *(bus.request(name, b"{}", {"Idempotency-Key": f"k-{i}"}, retry_safe=True) for i in range(6))
        )
    finally:
        await sub.unsubscribe()
    assert answers == [b"{}"] * 6
    assert sample(metrics, "loans_edge_nats_retries", "_total", subject=name, outcome="timeout") == 6
    assert bus.breakers[name].state is State.CLOSED


async def test_ready_names_the_nats_server_the_edge_is_on(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """In a cluster, which node an edge is connected to (tests/chaos/test_cluster.py kills that one)."""
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["nats_server"] == settings.require_nats_url().removeprefix("nats://")
