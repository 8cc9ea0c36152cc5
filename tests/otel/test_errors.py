"""What a span says when a request fails: a 5xx is an ERROR with the exception, a 4xx is not."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from actors.bus.tokens import TokenVerifier
from actors.contracts.base import Message
from actors.contracts.config import Settings
from actors.contracts.errors import Conflict
from actors.runtime.actor import Actor, Context
from actors.runtime.serving import ServingActor, serve
from tests.support.trees import one, wait_for

pytestmark = pytest.mark.anyio


class Ping(Message):
    n: int = 0


async def _no_keys() -> bytes:
    return b'{"keys": []}'


@pytest.fixture
async def failing(settings: Settings, nc: Client) -> AsyncIterator[str]:
    name = f"ot{uuid.uuid4().hex[:8]}"
    actor: Actor[None] = Actor(name)

    @actor.handle(f"{name}.boom", Ping)
    async def boom(req: Ping, ctx: Context[None]) -> Ping:
        raise RuntimeError("disk on fire")

    @actor.handle(f"{name}.taken", Ping)
    async def taken(req: Ping, ctx: Context[None]) -> Ping:
        raise Conflict("already there", code="already_there")

    serving: ServingActor[None] = await serve(
        actor,
        nc=nc,
        pool=None,
        state=None,
        settings=settings,
        verifier=TokenVerifier(_no_keys),  # type: ignore[arg-type]
    )
    yield name
    await serving.drain(grace=1)


async def test_an_unexpected_exception_is_an_error_span_with_the_exception(
    failing: str, nc: Client, spans: InMemorySpanExporter
) -> None:
    reply = await nc.request(f"{failing}.boom", b"{}", timeout=5)
    assert reply.headers is not None and reply.headers["Nats-Service-Error-Code"] == "500"
    finished = await wait_for(spans, lambda f: any(s.name == f"process {failing}.boom" for s in f))
    span = one(finished, SpanKind.SERVER, f"process {failing}.boom")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RuntimeError" and span.attributes["loans.error.status"] == 500
    [event] = span.events
    assert event.name == "exception" and event.attributes is not None
    assert event.attributes["exception.message"] == "disk on fire"


async def test_a_domain_conflict_keeps_the_span_status_unset(
    failing: str, nc: Client, spans: InMemorySpanExporter
) -> None:
    reply = await nc.request(f"{failing}.taken", b"{}", timeout=5)
    assert reply.headers is not None and reply.headers["Nats-Service-Error-Code"] == "409"
    finished = await wait_for(spans, lambda f: any(s.name == f"process {failing}.taken" for s in f))
    span = one(finished, SpanKind.SERVER, f"process {failing}.taken")
    assert span.status.status_code == StatusCode.UNSET and not span.events
    assert span.attributes is not None
    assert (
        span.attributes["loans.error.status"] == 409
        and span.attributes["loans.error.code"] == "already_there"
    )
