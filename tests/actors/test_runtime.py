"""The shared runtime over a real NATS server: dispatch, errors, deadlines, stats and drain."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from nats.aio.client import Client

from actors.bus.tokens import TokenVerifier
from actors.contracts.base import Message
from actors.contracts.config import Settings
from actors.contracts.errors import Conflict
from actors.runtime.actor import Actor, Context
from actors.runtime.serving import ServingActor, serve

pytestmark = pytest.mark.anyio


class Sleep(Message):
    seconds: float
    n: int = 0


class Echo(Message):
    n: int


class Probe:
    running = 0
    most = 0


def make_actor() -> tuple[Actor[Probe], str]:
    name = f"rt{uuid.uuid4().hex[:8]}"
    actor: Actor[Probe] = Actor(name)

    @actor.handle(f"{name}.sleep", Sleep)
    async def sleep(req: Sleep, ctx: Context[Probe]) -> Echo:
        ctx.state.running += 1
        ctx.state.most = max(ctx.state.most, ctx.state.running)
        try:
            await asyncio.sleep(req.seconds)
        finally:
            ctx.state.running -= 1
        return Echo(n=req.n)

    @actor.handle(f"{name}.boom", Echo)
    async def boom(req: Echo, ctx: Context[Probe]) -> Echo:
        raise RuntimeError("secret internals: password=hunter2")

    @actor.handle(f"{name}.conflict", Echo)
    async def conflict(req: Echo, ctx: Context[Probe]) -> Echo:
        raise Conflict("already done", code="already_done", details={"n": req.n})

    @actor.handle(f"{name}.private", Echo, roles={"admin"})
    async def private(req: Echo, ctx: Context[Probe]) -> Echo:
        return req

    return actor, name


async def _no_keys() -> bytes:
    return b'{"keys": []}'


@pytest.fixture
async def served(settings: Settings, nc: Client) -> AsyncIterator[tuple[ServingActor[Probe], str]]:
    actor, name = make_actor()
    serving = await serve(
        actor,
        nc=nc,
        pool=None,
        state=Probe(),
        settings=settings,
        verifier=TokenVerifier(_no_keys),  # type: ignore[arg-type]
    )
    yield serving, name
    await serving.drain(grace=1)


async def test_requests_to_one_subject_run_concurrently(
    served: tuple[ServingActor[Probe], str], nc: Client
) -> None:
    """Five parallel calls to one endpoint are in the handler at the same time (nats.micro runs one)."""
    serving, name = served
    body = json.dumps({"seconds": 0.3}).encode()
    replies = await asyncio.gather(*(nc.request(f"{name}.sleep", body, timeout=5) for _ in range(5)))
    assert all(r.headers is None for r in replies)
    assert serving.state.most == 5


async def test_a_bad_body_is_a_400_naming_the_field(
    served: tuple[ServingActor[Probe], str], nc: Client
) -> None:
    _, name = served
    reply = await nc.request(f"{name}.sleep", b'{"seconds": "soon"}', timeout=5)
    assert reply.headers is not None and reply.headers["Nats-Service-Error-Code"] == "400"
    body = json.loads(reply.data)
    assert body["code"] == "validation_error" and body["details"] == {"field": "seconds"}
    reply = await nc.request(f"{name}.sleep", b"{not json", timeout=5)
    assert reply.headers is not None and reply.headers["Nats-Service-Error-Code"] == "400"


async def test_an_unexpected_error_is_a_generic_500_and_the_worker_lives_on(
    served: tuple[ServingActor[Probe], str], nc: Client
) -> None:
    serving, name = served
    reply = await nc.request(f"{name}.boom", b'{"n": 1}', timeout=5)
    assert reply.headers is not None and reply.headers["Nats-Service-Error-Code"] == "500"
    assert b"hunter2" not in reply.data and "hunter2" not in reply.headers["Nats-Service-Error"]
    ok = await nc.request(f"{name}.sleep", b'{"seconds": 0, "n": 7}', timeout=5)
    assert json.loads(ok.data) == {"n": 7}
    stats = serving.micro.stats().to_dict()
    boom = next(e for e in stats["endpoints"] if e["subject"] == f"{name}.boom")
    assert boom["num_requests"] == 1 and boom["num_errors"] == 1


async def test_domain_errors_carry_status_code_and_details(
    served: tuple[ServingActor[Probe], str], nc: Client
) -> None:
    _, name = served
    reply = await nc.request(f"{name}.conflict", b'{"n": 3}', timeout=5)
    assert reply.headers is not None and reply.headers["Nats-Service-Error-Code"] == "409"
    assert json.loads(reply.data) == {"code": "already_done", "message": "already done", "details": {"n": 3}}


async def test_replies_do_not_echo_request_headers(
    served: tuple[ServingActor[Probe], str], nc: Client
) -> None:
    """nats-py's Msg.respond() would send the caller's Authorization header back."""
    _, name = served
    headers = {"Authorization": "Bearer secret-token", "X-Other": "1"}
    reply = await nc.request(f"{name}.sleep", b'{"seconds": 0}', timeout=5, headers=headers)
    assert not reply.headers or "Authorization" not in reply.headers


async def test_subjects_with_roles_refuse_a_missing_or_forged_token(
    served: tuple[ServingActor[Probe], str], nc: Client
) -> None:
    _, name = served
    for headers in (None, {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Basic abc"}):
        reply = await nc.request(f"{name}.private", b'{"n": 1}', timeout=5, headers=headers)
        assert reply.headers is not None and reply.headers["Nats-Service-Error-Code"] == "401"


async def test_work_already_past_its_deadline_is_dropped(
    served: tuple[ServingActor[Probe], str], nc: Client
) -> None:
    serving, name = served
    past = str(int((time.time() - 1) * 1000))
    with pytest.raises(asyncio.TimeoutError):
        await nc.request(f"{name}.sleep", b'{"seconds": 0}', timeout=0.5, headers={"Loans-Deadline": past})
    assert serving.state.most == 0  # the handler never ran


async def test_work_running_past_its_deadline_answers_504(
    served: tuple[ServingActor[Probe], str], nc: Client
) -> None:
    _, name = served
    soon = str(int((time.time() + 0.2) * 1000))
    reply = await nc.request(f"{name}.sleep", b'{"seconds": 2}', timeout=5, headers={"Loans-Deadline": soon})
    assert reply.headers is not None and reply.headers["Nats-Service-Error-Code"] == "504"


async def test_micro_discovery_and_stats_answer(served: tuple[ServingActor[Probe], str], nc: Client) -> None:
    serving, name = served
    await nc.request(f"{name}.sleep", b'{"seconds": 0}', timeout=5)
    ping = json.loads((await nc.request(f"$SRV.PING.{name}", b"", timeout=2)).data)
    assert ping["name"] == name and ping["id"] == serving.micro.id
    info = json.loads((await nc.request(f"$SRV.INFO.{name}", b"", timeout=2)).data)
    assert {e["subject"] for e in info["endpoints"]} == set(serving.actor.routes)
    assert all(e["queue_group"] == name for e in info["endpoints"])
    stats = json.loads((await nc.request(f"$SRV.STATS.{name}.{serving.micro.id}", b"", timeout=2)).data)
    sleep = next(e for e in stats["endpoints"] if e["subject"] == f"{name}.sleep")
    assert sleep["num_requests"] == 1 and sleep["processing_time"] > 0


async def test_drain_lets_in_flight_requests_finish_and_takes_no_new_ones(
    settings: Settings, nc: Client
) -> None:
    actor, name = make_actor()
    serving = await serve(
        actor,
        nc=nc,
        pool=None,
        state=Probe(),
        settings=settings,
        verifier=TokenVerifier(_no_keys),  # type: ignore[arg-type]
    )
    slow = asyncio.create_task(nc.request(f"{name}.sleep", b'{"seconds": 0.5, "n": 1}', timeout=5))
    while serving.state.running == 0:  # noqa: ASYNC110 (polling the handler's counter is the point)
        await asyncio.sleep(0.01)
    await serving.drain(grace=5)
    reply = await slow
    assert msgspec.json.decode(reply.data) == {"n": 1}
    from nats.errors import NoRespondersError

    with pytest.raises(NoRespondersError):
        await nc.request(f"{name}.sleep", b'{"seconds": 0}', timeout=1)
