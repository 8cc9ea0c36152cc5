"""The one request client over real NATS: what it sends; every outcome a reply or an ActorError."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.bus import client
from actors.bus.connection import connect
from actors.bus.tokens import TokenVerifier
from actors.contracts.base import Message
from actors.contracts.config import Settings
from actors.contracts.errors import (
    ActorError,
    Conflict,
    DeadlineExceeded,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from actors.contracts.headers import AUTHORIZATION_HEADER, DEADLINE_HEADER, ERROR_CODE_HEADER, ERROR_HEADER
from actors.runtime.actor import Actor, Context
from actors.runtime.serving import serve

pytestmark = pytest.mark.anyio


def subject() -> str:
    return f"test.client.{uuid.uuid4().hex}"


class Echo(Message):
    n: int


async def _no_keys() -> bytes:
    return b'{"keys": []}'


@pytest.fixture
async def probe(settings: Settings, nc: Client) -> AsyncIterator[str]:
    """A real actor (the runtime's own error replies); its subjects start with the name yielded."""
    name = f"cl{uuid.uuid4().hex[:8]}"
    actor: Actor[None] = Actor(name)

    @actor.handle(f"{name}.echo", Echo)
    async def echo(req: Echo, ctx: Context[None]) -> Echo:
        return req

    @actor.handle(f"{name}.conflict", Echo)
    async def conflict(req: Echo, ctx: Context[None]) -> Echo:
        raise Conflict("already done", code="already_done", details={"n": req.n})

    @actor.handle(f"{name}.private", Echo, roles={"admin"})
    async def private(req: Echo, ctx: Context[None]) -> Echo:
        return req

    serving = await serve(
        actor,
        nc=nc,
        pool=None,
        state=None,
        settings=settings,
        verifier=TokenVerifier(_no_keys),
    )
    yield name
    await serving.drain(grace=1)


async def test_a_success_is_the_reply_body(nc: Client, probe: str) -> None:
    assert await client.request(nc, f"{probe}.echo", b'{"n": 3}', timeout=2) == b'{"n":3}'
    outcome, error, data = await client.exchange(nc, f"{probe}.echo", b'{"n": 4}', timeout=2)
    assert (outcome, error, json.loads(data)) == (client.OK, None, {"n": 4})


async def test_it_sends_the_deadline_the_token_and_the_callers_headers(nc: Client) -> None:
    """The deadline is the attempt's own end; the token wins over an Authorization passed in."""
    name, seen = subject(), []

    async def worker(msg: Msg) -> None:
        seen.append((time.time(), dict(msg.headers or {})))
        await msg.respond(b"{}")

    sub = await nc.subscribe(name, cb=worker)
    try:
        headers = {"Idempotency-Key": "k-1", AUTHORIZATION_HEADER: "Bearer old", "traceparent": "00-x"}
        await client.request(nc, name, timeout=0.7, token="tok", headers=headers)
        await client.request(nc, name, timeout=1.5)
    finally:
        await sub.unsubscribe()
    (first_at, first), (second_at, second) = seen
    assert first["Idempotency-Key"] == "k-1" and first["traceparent"] == "00-x"  # untraced: as given
    assert first[AUTHORIZATION_HEADER] == "Bearer tok"
    assert int(first[DEADLINE_HEADER]) / 1000 - first_at == pytest.approx(0.7, abs=0.1)
    assert AUTHORIZATION_HEADER not in second
    assert int(second[DEADLINE_HEADER]) / 1000 - second_at == pytest.approx(1.5, abs=0.1)
    assert headers == {"Idempotency-Key": "k-1", AUTHORIZATION_HEADER: "Bearer old", "traceparent": "00-x"}


async def test_an_error_reply_is_the_actor_error_of_its_status_with_the_body_it_named(
    nc: Client, probe: str
) -> None:
    with pytest.raises(Conflict) as raised:
        await client.request(nc, f"{probe}.conflict", b'{"n": 5}', timeout=2)
    error = raised.value
    assert (error.status, error.code, error.message, error.details) == (
        409,
        "already_done",
        "already done",
        {"n": 5},
    )
    outcome, _, data = await client.exchange(nc, f"{probe}.conflict", b'{"n": 5}', timeout=2)
    assert outcome == "409"
    assert json.loads(data)["code"] == "already_done"  # the reply as it came, for `loans request`
    with pytest.raises(Unauthenticated):  # no token for an admin-only subject
        await client.request(nc, f"{probe}.private", b'{"n": 1}', timeout=2)


async def test_an_error_reply_without_the_runtimes_body_falls_back_to_its_headers(nc: Client) -> None:
    name = subject()

    async def worker(msg: Msg) -> None:
        status = json.loads(msg.data)["status"]
        await nc.publish(msg.reply, b"garbage", headers={ERROR_CODE_HEADER: status, ERROR_HEADER: "nope"})

    sub = await nc.subscribe(name, cb=worker)
    try:
        with pytest.raises(NotFound) as not_found:
            await client.request(nc, name, b'{"status": "404"}', timeout=2)
        with pytest.raises(ActorError) as teapot:
            await client.request(nc, name, b'{"status": "418"}', timeout=2)
        with pytest.raises(ActorError) as nonsense:
            await client.request(nc, name, b'{"status": "abc"}', timeout=2)
    finally:
        await sub.unsubscribe()
    assert (not_found.value.code, not_found.value.message) == ("not_found", "nope")
    assert (teapot.value.status, teapot.value.code) == (418, "error")
    assert (nonsense.value.status, nonsense.value.code) == (500, "internal_error")


async def test_nobody_serving_the_subject_is_unavailable_at_once(nc: Client) -> None:
    started = time.monotonic()
    outcome, error, _ = await client.exchange(nc, subject(), timeout=2)
    assert outcome == client.NO_RESPONDERS and isinstance(error, Unavailable)
    assert time.monotonic() - started < 1
    with pytest.raises(Unavailable):
        await client.request(nc, subject(), timeout=2)


async def test_no_reply_in_time_is_deadline_exceeded(nc: Client) -> None:
    name = subject()

    async def silent(msg: Msg) -> None:
        pass

    sub = await nc.subscribe(name, cb=silent)
    try:
        started = time.monotonic()
        outcome, error, _ = await client.exchange(nc, name, timeout=0.3)
        elapsed = time.monotonic() - started
    finally:
        await sub.unsubscribe()
    assert outcome == client.TIMEOUT and isinstance(error, DeadlineExceeded)
    assert 0.3 <= elapsed < 0.8


async def test_a_bus_that_is_not_connected_is_unavailable_without_waiting(settings: Settings) -> None:
    closed = await connect(settings, "tests-closed")
    await closed.close()
    for nc in (closed, None):
        started = time.monotonic()
        outcome, error, _ = await client.exchange(nc, subject(), timeout=2)
        assert outcome == client.UNAVAILABLE and isinstance(error, Unavailable)
        assert time.monotonic() - started < 0.1
