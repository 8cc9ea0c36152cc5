"""A batch handler takes every fresh event of a fetched batch in one call; one event a call on retry."""

from __future__ import annotations

import time
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
from nats.aio.client import Client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import otel.setup
from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.runtime.consumers import BatchHandler, Consumer, EventSubscription
from actors.runtime.dead_letters import dead_letters
from actors.runtime.serving import ServingActor
from otel import spans
from tests.support.events import new_event, publish, run_until_settled, settled
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio


def _subscription(kind: str, handler: BatchHandler[None]) -> EventSubscription[None]:
    return EventSubscription(durable=f"test-{kind.replace('.', '-')}", pattern=kind, batch_handler=handler)


async def _consume(
    settings: Settings, nc: Client, worker: ServingActor[Any], sub: EventSubscription[None]
) -> Consumer[None]:
    """Run a consumer until every event waiting for it is settled; the stopped consumer."""
    consumer = Consumer(sub, "users", settings, nc.jetstream(), worker.pool, None)
    await run_until_settled(nc, settings, consumer, within=20)
    return consumer


async def test_a_subscription_takes_exactly_one_of_handler_and_batch_handler() -> None:
    """Neither or both is refused when the subscription is declared, not when the first event comes."""

    async def one(event: Envelope, con: asyncpg.Connection, state: None) -> None: ...

    async def many(events: list[Envelope], con: asyncpg.Connection, state: None) -> None: ...

    with pytest.raises(TypeError, match="exactly one"):
        EventSubscription(durable="test-neither", pattern="tests.neither")
    with pytest.raises(TypeError, match="exactly one"):
        EventSubscription(durable="test-both", pattern="tests.both", handler=one, batch_handler=many)


async def test_a_batch_handler_gets_the_fresh_events_of_a_fetch_in_one_call_in_fetch_order(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """Two fetches, two calls, each in its batch's transaction with the fresh events in publish
    order: a copy of an event (another message id) in the same fetch, or of one applied by an
    earlier fetch, is left out."""
    kind = f"tests.batchhandler{uuid.uuid4().hex[:8]}"
    calls: list[list[uuid.UUID]] = []
    inboxed: list[int] = []  # per call: inbox rows of its events written by its own transaction

    async def effect(events: list[Envelope], con: asyncpg.Connection, state: None) -> None:
        ids = [event.id for event in events]
        calls.append(ids)
        inboxed.append(
            await con.fetchval(
                """SELECT count(*) FROM users.inbox
                   WHERE event_id = ANY($1::uuid[]) AND xmin = pg_current_xact_id()::xid""",
                ids,
            )
        )

    sub = _subscription(kind, effect)
    first = [new_event(kind) for _ in range(4)]
    for event in first:
        await publish(nc, settings, event)
    await publish(nc, settings, first[0], msg_id=f"{first[0].id}:again")
    consumer = await _consume(settings, nc, users_worker, sub)
    assert calls == [[event.id for event in first]]
    assert consumer.applied == 4

    later = [new_event(kind) for _ in range(3)]
    await publish(nc, settings, first[1], msg_id=f"{first[1].id}:later")  # applied already
    for event in later:
        await publish(nc, settings, event)
    await publish(nc, settings, first[3], msg_id=f"{first[3].id}:later")
    consumer = await _consume(settings, nc, users_worker, sub)  # the same durable: only what is new
    assert calls == [[event.id for event in first], [event.id for event in later]]
    assert consumer.applied == 3
    assert inboxed == [4, 3]


async def test_a_failed_batch_is_applied_with_one_event_per_call(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """A poison event fails the batch's one call; it rolls back and the handler gets one event a
    call: the good ones commit once each, in order, and the poison one is dead-lettered."""
    quick = msgspec.structs.replace(settings, event_max_deliver=2)
    kind = f"tests.batchhandlerpoison{uuid.uuid4().hex[:8]}"
    events = [new_event(kind) for _ in range(5)]
    poison = events[2]
    calls: list[list[uuid.UUID]] = []
    committed: list[uuid.UUID] = []

    async def effect(events: list[Envelope], con: asyncpg.Connection, state: None) -> None:
        calls.append([event.id for event in events])
        if any(event.id == poison.id for event in events):
            raise ValueError("the effect cannot apply this event")
        committed.extend(event.id for event in events)

    for event in events:
        await publish(nc, settings, event)
    sub = _subscription(kind, effect)
    consumer = Consumer(sub, "users", quick, nc.jetstream(), users_worker.pool, None)
    await consumer.start()
    try:

        async def dead() -> bool:
            return any(d.event_id == poison.id for d in await dead_letters(nc.jetstream(), settings))

        await eventually(dead, timeout=20, what="the failing event was not dead-lettered")
        await eventually(lambda: settled(nc, settings, consumer))
    finally:
        await consumer.stop()
    assert calls[0] == [event.id for event in events]
    assert all(len(call) == 1 for call in calls[1:]), calls
    assert [call[0] for call in calls[1:6]] == [event.id for event in events]  # in order, one by one
    assert calls[6:] == [[poison.id]]  # its second and last try
    good = [event.id for event in events if event is not poison]
    assert committed == good and consumer.applied == 4
    async with users_worker.pool.acquire() as con:
        inbox = await con.fetch(
            "SELECT event_id FROM users.inbox WHERE event_id = ANY($1::uuid[])", [e.id for e in events]
        )
    assert sorted(row["event_id"] for row in inbox) == sorted(good)


async def test_with_tracing_each_event_of_a_batch_has_its_span_open_before_the_batch_handler_runs(
    settings: Settings, nc: Client, users_worker: ServingActor[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tracing on: a CONSUMER span per event, each started before the one call of the handler and
    ended after it, with the size of the batch it committed in."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for name in ("_tracer", "_recorder", "_lean_children", "_skip_unsampled"):  # given back after the test
        monkeypatch.setattr(spans, name, getattr(spans, name))
    spans.configure(provider)  # this provider, not the process's global one
    monkeypatch.setattr(otel.setup, "_enabled", True)
    kind = f"tests.batchhandlerspans{uuid.uuid4().hex[:8]}"
    ran_at: list[int] = []

    async def effect(events: list[Envelope], con: asyncpg.Connection, state: None) -> None:
        ran_at.append(time.time_ns())

    for _ in range(3):
        await publish(nc, settings, new_event(kind))
    await _consume(settings, nc, users_worker, _subscription(kind, effect))
    consumed = [
        s for s in exporter.get_finished_spans() if s.kind == SpanKind.CONSUMER and s.name.endswith(kind)
    ]
    assert len(consumed) == 3 and len(ran_at) == 1
    for span in consumed:
        assert span.attributes is not None
        assert span.attributes["loans.event.applied"] is True
        assert span.attributes["loans.event.batch"] == 3
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time < ran_at[0] < span.end_time
