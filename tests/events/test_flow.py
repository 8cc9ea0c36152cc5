"""Events between the actors on the run's real NATS: read models, activity, redelivery, dead letters."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.runtime.consumers import Consumer, EventSubscription
from actors.runtime.db import role_dsn
from actors.runtime.dead_letters import dead_letters, replay
from actors.runtime.serving import ServingActor
from tests.support.events import new_event, publish
from tests.support.people import Cast, signup
from tests.support.polling import eventually
from tests.support.processes import env_for, run_loans

pytestmark = pytest.mark.anyio


async def test_a_deleted_agents_next_loan_action_is_refused_within_a_second(
    client: httpx.AsyncClient, people: Cast
) -> None:
    """The agent.deleted event reaches the loans actor's read model: the still-valid token stops working."""
    listed = await client.get("/api/loan/list-loans-admin-agent", headers=people.agent.headers)
    assert listed.status_code == 200
    deleted = await client.delete(f"/api/user/approve-delete/{people.agent.id}", headers=people.admin.headers)
    assert deleted.status_code == 200

    async def refused() -> bool:
        r = await client.get("/api/loan/list-loans-admin-agent", headers=people.agent.headers)
        return r.status_code == 403

    await eventually(refused, timeout=1.0, interval=0.02, what="the deleted agent was not refused")


async def test_loan_events_become_profile_activity_and_a_notification(
    client: httpx.AsyncClient, people: Cast, settings: Settings
) -> None:
    """Created and approved show on the customer's and the agent's profiles, newest first."""
    created = await client.post(
        "/api/loan/customer-loan",
        json={"customer_id": people.customer.id, "principal": "20000", "months": 6},
        headers=people.agent.headers,
    )
    loan_id = created.json()["data"]["id"]
    await client.put(
        f"/api/loan/approve-reject-loan/{loan_id}", json={"status": "APPROVED"}, headers=people.admin.headers
    )

    async def both_on_profiles() -> bool:
        for person in (people.customer, people.agent):
            activity = (await client.get("/api/user/profile", headers=person.headers)).json()["data"][
                "activity"
            ]
            if [a["type"] for a in activity] != ["loan.approved", "loan.created"]:
                return False
        return True

    await eventually(both_on_profiles, what="the loan events did not reach both profiles")
    activity = (await client.get("/api/user/profile", headers=people.customer.headers)).json()["data"][
        "activity"
    ]
    assert activity[0]["loan_id"] == loan_id and activity[0]["status"] == "APPROVED"
    assert activity[0]["by"] == people.admin.id and activity[0]["version"] == 2
    con = await asyncpg.connect(role_dsn(settings, "users"))
    try:
        kinds = await con.fetch("SELECT kind FROM users.notifications WHERE loan_id = $1", uuid.UUID(loan_id))
    finally:
        await con.close()
    assert [k["kind"] for k in kinds] == ["loan_approved"]


async def test_user_events_fill_the_loans_read_model(client: httpx.AsyncClient, settings: Settings) -> None:
    """A new customer appears in loans.parties without anyone asking users.get."""
    customer = await signup(client, "customer", first_name="Read", last_name="Model")
    con = await asyncpg.connect(role_dsn(settings, "loans"))
    try:

        async def present() -> bool:
            row = await con.fetchrow("SELECT * FROM loans.parties WHERE id = $1", uuid.UUID(customer.id))
            return row is not None and row["last_name"] == "Model" and row["version"] == 1

        await eventually(present, what="the customer did not reach loans.parties")
    finally:
        await con.close()


async def test_a_consumer_killed_mid_event_gets_it_again_and_applies_it_once(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """No ack → redelivery after ack_wait to the next consumer; the inbox makes a duplicate a no-op."""
    fast = msgspec.structs.replace(settings, event_ack_wait=1.0)
    kind = f"tests.kill{uuid.uuid4().hex[:8]}"
    applied: list[uuid.UUID] = []
    stuck = asyncio.Event()

    async def effect(event: Envelope, con: asyncpg.Connection, state: bool) -> None:
        if state:  # the first consumer: dies in the middle of the work
            stuck.set()
            await asyncio.Event().wait()
        applied.append(event.id)

    sub = EventSubscription(durable=f"test-{kind.replace('.', '-')}", pattern=kind, handler=effect)
    js = nc.jetstream()
    first = Consumer(sub, "users", fast, js, users_worker.pool, True)
    await first.start()
    event = new_event(kind)
    await publish(nc, settings, event)
    await asyncio.wait_for(stuck.wait(), 10)
    await first.stop()  # killed: neither acked nor nak'ed

    second = Consumer(sub, "users", fast, js, users_worker.pool, False)
    await second.start()
    try:
        await eventually(lambda: applied == [event.id])
        await publish(nc, settings, event, msg_id=f"{event.id}:again")  # a duplicate delivery
        await asyncio.sleep(0.5)
        assert applied == [event.id]
        assert second.applied == 1
    finally:
        await second.stop()


async def test_a_poison_event_is_dead_lettered_with_its_reason_and_replays_once_fixed(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """After max_deliver failures it is in the dead-letter stream; `loans events replay` sends it back."""
    quick = msgspec.structs.replace(settings, event_max_deliver=3)
    kind = f"tests.poison{uuid.uuid4().hex[:8]}"
    broken = {"yes": True}
    applied: list[uuid.UUID] = []

    async def effect(event: Envelope, con: asyncpg.Connection, state: None) -> None:
        if broken["yes"]:
            raise ValueError("the effect cannot apply this event")
        applied.append(event.id)

    sub = EventSubscription(durable=f"test-{kind.replace('.', '-')}", pattern=kind, handler=effect)
    js = nc.jetstream()
    consumer = Consumer(sub, "users", quick, js, users_worker.pool, None)
    await consumer.start()
    try:
        event = new_event(kind)
        await publish(nc, settings, event)

        async def dead() -> bool:
            return any(d.event_id == event.id for d in await dead_letters(js, settings))

        await eventually(dead, timeout=20, what="the event was not dead-lettered")
        letter = next(d for d in await dead_letters(js, settings) if d.event_id == event.id)
        assert "failed 3 times" in letter.reason and "cannot apply this event" in letter.reason
        assert letter.consumer == sub.durable and applied == []

        listed = await asyncio.to_thread(run_loans, settings, "events", "dlq")
        assert str(event.id) in listed.stdout and "cannot apply" in listed.stdout

        broken["yes"] = False
        assert await replay(js, settings, str(event.id)) is not None
        await eventually(lambda: applied == [event.id])
        assert not any(d.event_id == event.id for d in await dead_letters(js, settings))
    finally:
        await consumer.stop()


async def test_events_tail_prints_events_as_they_flow(settings: Settings, nc: Client) -> None:
    """`loans events tail` shows an event published while it runs."""
    tail = subprocess.Popen(  # noqa: ASYNC220 (started once, read from a thread below)
        [sys.executable, "-m", "ops.cli", "events", "tail", "--seconds", "4"],
        env=env_for(settings),
        stdout=subprocess.PIPE,
        text=True,
    )
    await asyncio.sleep(2.0)  # let it subscribe
    event = new_event(f"tests.tail{uuid.uuid4().hex[:8]}")
    await publish(nc, settings, event)
    out, _ = await asyncio.to_thread(tail.communicate, timeout=20)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert any(line["id"] == str(event.id) for line in lines)


async def test_a_database_outage_does_not_use_up_max_deliver(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """While the database is unreachable the consumer waits with the delivery in hand: the event is
    applied once it is back, after more failures than max_deliver, and never dead-lettered."""
    quick = msgspec.structs.replace(settings, event_max_deliver=2)
    kind = f"tests.dbdown{uuid.uuid4().hex[:8]}"
    failures = {"left": 5}
    applied: list[uuid.UUID] = []

    async def effect(event: Envelope, con: asyncpg.Connection, state: None) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionRefusedError("database down")
        applied.append(event.id)

    sub = EventSubscription(durable=f"test-{kind.replace('.', '-')}", pattern=kind, handler=effect)
    js = nc.jetstream()
    consumer = Consumer(sub, "users", quick, js, users_worker.pool, None)
    await consumer.start()
    try:
        event = new_event(kind)
        await publish(nc, settings, event)
        await eventually(lambda: applied == [event.id], timeout=20)
        assert failures["left"] == 0
        assert not any(d.event_id == event.id for d in await dead_letters(js, settings))
    finally:
        await consumer.stop()
