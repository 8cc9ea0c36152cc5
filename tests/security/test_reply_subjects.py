"""Reply-subject steering (issue 12, M1): an actor answers only to an inbox, in code and by the
permissions of deploy/nats-authorization.conf, so a request cannot aim its answer at JetStream's
API, another actor or an event subject."""

from __future__ import annotations

import json
from functools import partial

import httpx
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.bus.connection import settled
from actors.contracts.config import Settings, load_settings
from actors.runtime.events import ensure_streams
from ops.discovery import gather
from tests.security.conftest import connect_as, refused
from tests.support.people import PASSWORD, new_email
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio
# where a requester might point an actor's answer; {stream} is the events stream
CRAFTED = {
    "purge-events": "$JS.API.STREAM.PURGE.{stream}",
    "another-actor": "loans.decide",
    "own-event": "events.users.user.registered",  # the users actor may publish here: only code stops it
}


async def observe(observer: Client, subject: str) -> list[Msg]:
    seen: list[Msg] = []

    async def keep(msg: Msg) -> None:
        seen.append(msg)

    await observer.subscribe(subject, cb=keep)
    await settled(observer)
    return seen


async def stream_messages(tools: Client, stream: str) -> int:
    return (await tools.jetstream().stream_info(stream)).state.messages


async def jwks_errors(tools: Client) -> tuple[int, str]:
    """users.jwks' error count and last error, from the one users replica's $SRV.STATS."""
    [reply] = await gather(tools, "$SRV.STATS.users", wait=0.3)
    [endpoint] = [e for e in json.loads(reply)["endpoints"] if e["subject"] == "users.jwks"]
    return endpoint["num_errors"], endpoint["last_error"]


@pytest.mark.parametrize("crafted", CRAFTED.values(), ids=CRAFTED.keys())
async def test_an_actor_drops_a_request_whose_reply_subject_is_not_an_inbox(
    secured_system: httpx.AsyncClient, secured_nats: str, crafted: str
) -> None:
    """users.jwks asked with reply-to `crafted`: the request is dropped and counted as an error,
    nothing is published there, and the events stream keeps every message."""
    settings: Settings = secured_system.settings  # type: ignore[attr-defined]
    target = crafted.format(stream=settings.events_stream)
    signup = {"email": new_email("c"), "password": PASSWORD, "first_name": "F", "last_name": "L"}
    errors: list[str] = []
    edge, tools, observer = [await connect_as(secured_nats, u, errors) for u in ("edge", "tools", "observer")]
    try:
        earlier = await stream_messages(tools, settings.events_stream)
        assert (await secured_system.post("/api/user/signup", json={**signup, "role": "customer"})).is_success
        # this signup's own event is in the stream (not only an earlier case's): there is something
        # to purge, and nothing of this test's is still on its way to change the count below
        await eventually(
            partial(_has_more_than, tools, settings.events_stream, earlier),
            timeout=10,
            what="the signup's event did not reach the stream",
        )
        before = await stream_messages(tools, settings.events_stream)
        seen = await observe(observer, target)
        count, _ = await jwks_errors(tools)

        await edge.publish("users.jwks", b"{}", reply=target)
        await edge.flush()

        async def dropped() -> bool:
            return await jwks_errors(tools) == (count + 1, "reply subject is not an inbox")

        await eventually(dropped, timeout=5, what="the users actor did not refuse the reply subject")
        await observer.flush()  # whatever the actor published is here by now
        assert seen == []
        assert await stream_messages(tools, settings.events_stream) == before
    finally:
        for nc in (edge, tools, observer):
            await nc.close()


async def _has_more_than(tools: Client, stream: str, count: int) -> bool:
    return await stream_messages(tools, stream) > count


@pytest.mark.parametrize("crafted", CRAFTED.values(), ids=CRAFTED.keys())
async def test_the_micro_endpoints_answer_only_an_inbox(
    secured_system: httpx.AsyncClient, secured_nats: str, crafted: str
) -> None:
    """$SRV.PING.users with reply-to `crafted` gets no answer there; a real inbox after it does."""
    settings: Settings = secured_system.settings  # type: ignore[attr-defined]
    target = crafted.format(stream=settings.events_stream)
    errors: list[str] = []
    edge, observer = [await connect_as(secured_nats, u, errors) for u in ("edge", "observer")]
    try:
        seen = await observe(observer, target)
        await edge.publish("$SRV.PING.users", b"", reply=target)
        # one subscription answers both in turn: when this answer is back, the first was handled
        assert json.loads((await edge.request("$SRV.PING.users", b"", timeout=5)).data)["name"] == "users"
        await observer.flush()
        assert seen == []
    finally:
        for nc in (edge, observer):
            await nc.close()


async def test_an_actor_user_may_answer_an_inbox_and_nothing_else(secured_nats: str) -> None:
    """Were an actor's own check bypassed, its NATS user still cannot answer to JetStream's API or
    another actor's subject (no `allow_responses`): `{}` sent to $JS.API.STREAM.PURGE.EVENTS would
    empty the stream. Its caller's inbox gets the answer."""
    settings = load_settings({}, nats_url=secured_nats)
    purge = f"$JS.API.STREAM.PURGE.{settings.events_stream}"
    errors: list[str] = []
    observed: list[str] = []
    responder, edge, tools, observer = [
        await connect_as(secured_nats, u, e)
        for u, e in (("users", errors), ("edge", observed), ("tools", observed), ("observer", observed))
    ]
    try:
        await ensure_streams(tools.jetstream(), settings)
        await responder.jetstream().publish(f"{settings.events_prefix}.users.probe.sent", b"{}")
        before = await stream_messages(tools, settings.events_stream)
        assert before > 0
        seen = await observe(observer, "loans.decide")

        async def answer(msg: Msg) -> None:
            await responder.publish(msg.reply, b"{}")  # what a careless actor would do

        await responder.subscribe("users.probe", cb=answer)
        await settled(responder)
        for target in (purge, "loans.decide"):
            await edge.publish("users.probe", b"{}", reply=target)
            await edge.flush()
            await eventually(partial(refused, target, errors), timeout=5, what=f"users answered {target}")
        assert (await edge.request("users.probe", b"{}", timeout=5)).data == b"{}"
        await observer.flush()
        assert seen == []
        assert await stream_messages(tools, settings.events_stream) == before
    finally:
        for nc in (responder, edge, tools, observer):
            await nc.close()
