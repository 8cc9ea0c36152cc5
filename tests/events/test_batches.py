"""A fetched batch of events is applied in one transaction; a bad event in it costs the others nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import pytest
from nats.aio.client import Client
from nats.js.errors import NotFoundError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind

import otel.setup
from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.runtime.consumers import Consumer, EventSubscription
from actors.runtime.dead_letters import dead_letters
from actors.runtime.serving import ServingActor
from otel import spans
from otel.propagation import inject
from tests.support.events import new_event, publish, run_until_settled, settled
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio

Handler = Callable[[Envelope, asyncpg.Connection, None], Awaitable[None]]


def _consumer(
    settings: Settings, nc: Client, worker: ServingActor[Any], kind: str, handler: Handler
) -> Consumer[None]:
    sub = EventSubscription(durable=f"test-{kind.replace('.', '-')}", pattern=kind, handler=handler)
    return Consumer(sub, "users", settings, nc.jetstream(), worker.pool, None)


async def test_a_fetched_batch_is_applied_in_one_transaction_in_fetch_order(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """20 events waiting when the consumer starts: one fetch, one transaction (every handler sees
    the same transaction id, every inbox row the same xmin), handlers called in publish order."""
    kind = f"tests.batch{uuid.uuid4().hex[:8]}"
    seen: list[tuple[uuid.UUID, str]] = []

    async def effect(event: Envelope, con: asyncpg.Connection, state: None) -> None:
        seen.append((event.id, await con.fetchval("SELECT pg_current_xact_id()::text")))

    events = [new_event(kind) for _ in range(20)]
    for event in events:
        await publish(nc, settings, event)
    consumer = _consumer(settings, nc, users_worker, kind, effect)
    await run_until_settled(nc, settings, consumer)
    assert [event_id for event_id, _ in seen] == [event.id for event in events]
    assert len({xact for _, xact in seen}) == 1, "each event committed on its own"
    assert consumer.applied == 20
    async with users_worker.pool.acquire() as con:
        xmins = await con.fetch(
            "SELECT DISTINCT xmin::text FROM users.inbox WHERE event_id = ANY($1::uuid[])",
            [event.id for event in events],
        )
    assert len(xmins) == 1


async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_others_apply_once(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """The batch rolls back and its events go one at a time: the four good ones commit once each,
    in order; the poison one (which writes, then fails) leaves no trace but its dead letter."""
    quick = msgspec.structs.replace(settings, event_max_deliver=3)
    kind = f"tests.batchpoison{uuid.uuid4().hex[:8]}"
    table = f"users.effects_{kind.rsplit('.', 1)[1]}"
    events = [new_event(kind) for _ in range(5)]
    poison = events[2]
    tries = {"poison": 0}

    async def effect(event: Envelope, con: asyncpg.Connection, state: None) -> None:
        await con.execute(f"INSERT INTO {table} (event_id) VALUES ($1)", event.id)
        if event.id == poison.id:
            tries["poison"] += 1
            raise ValueError("the effect cannot apply this event")

    async with users_worker.pool.acquire() as con:
        await con.execute(f"CREATE TABLE {table} (seq bigserial PRIMARY KEY, event_id uuid NOT NULL)")
    consumer = _consumer(quick, nc, users_worker, kind, effect)
    try:
        for event in events:
            await publish(nc, settings, event)
        await consumer.start()

        async def dead() -> bool:
            return any(d.event_id == poison.id for d in await dead_letters(nc.jetstream(), settings))

        await eventually(dead, timeout=20, what="the poison event was not dead-lettered")
        await eventually(lambda: settled(nc, settings, consumer))
        letter = next(d for d in await dead_letters(nc.jetstream(), settings) if d.event_id == poison.id)
        assert "failed 3 times" in letter.reason and "cannot apply this event" in letter.reason
        assert tries["poison"] >= 3
        async with users_worker.pool.acquire() as con:
            committed = await con.fetch(f"SELECT event_id FROM {table} ORDER BY seq")
            inbox = await con.fetch(
                "SELECT event_id FROM users.inbox WHERE event_id = ANY($1::uuid[])", [e.id for e in events]
            )
        good = [e.id for e in events if e is not poison]
        assert [r["event_id"] for r in committed] == good  # each once, in order, and no poison
        assert sorted(r["event_id"] for r in inbox) == sorted(good)
        assert consumer.applied == 4
    finally:
        await consumer.stop()
        async with users_worker.pool.acquire() as con:
            await con.execute(f"DROP TABLE IF EXISTS {table}")


async def test_an_event_delivered_twice_in_one_batch_is_applied_once(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """A copy of an event (another message id) in the same fetch is a repeat: skipped, acked, and
    the batch still commits as one transaction."""
    kind = f"tests.batchtwice{uuid.uuid4().hex[:8]}"
    applied: list[uuid.UUID] = []
    xacts: set[str] = set()

    async def effect(event: Envelope, con: asyncpg.Connection, state: None) -> None:
        applied.append(event.id)
        xacts.add(await con.fetchval("SELECT pg_current_xact_id()::text"))

    twice, other = new_event(kind), new_event(kind)
    await publish(nc, settings, twice)
    await publish(nc, settings, other)
    await publish(nc, settings, twice, msg_id=f"{twice.id}:again")
    consumer = _consumer(settings, nc, users_worker, kind, effect)
    await run_until_settled(nc, settings, consumer)
    assert applied == [twice.id, other.id] and len(xacts) == 1
    assert consumer.applied == 2


async def test_each_event_of_a_batch_gets_its_own_span_linked_to_its_producer(
    settings: Settings, nc: Client, users_worker: ServingActor[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tracing on: a CONSUMER span per event, a root linked to the span that produced it, with the
    handler's statements below it and the size of the batch it committed in."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for name in ("_tracer", "_recorder", "_lean_children", "_skip_unsampled"):  # given back after the test
        monkeypatch.setattr(spans, name, getattr(spans, name))
    spans.configure(provider)  # this provider, not the process's global one
    monkeypatch.setattr(otel.setup, "_enabled", True)
    kind = f"tests.batchspans{uuid.uuid4().hex[:8]}"

    async def effect(event: Envelope, con: asyncpg.Connection, state: None) -> None:
        await con.execute("SELECT 1")

    producers: dict[str, Span] = {}
    for _ in range(3):
        event = new_event(kind)
        with provider.get_tracer("tests").start_as_current_span("produce") as producer:
            headers: dict[str, str] = {}
            inject(headers)
        producers[str(event.id)] = producer
        await publish(nc, settings, event, **headers)
    consumer = _consumer(settings, nc, users_worker, kind, effect)
    await run_until_settled(nc, settings, consumer)
    finished = exporter.get_finished_spans()
    consumed = [s for s in finished if s.kind == SpanKind.CONSUMER and s.name.endswith(kind)]
    assert len(consumed) == 3
    for span in consumed:
        assert span.attributes is not None and span.parent is None
        producer = producers[str(span.attributes["messaging.message.id"])]
        assert [link.context.span_id for link in span.links] == [producer.get_span_context().span_id]
        assert span.attributes["loans.event.applied"] is True
        assert span.attributes["loans.event.batch"] == 3
        assert span.context is not None
        below = [s for s in finished if s.parent is not None and s.parent.span_id == span.context.span_id]
        assert any(s.attributes and s.attributes.get("db.query.text") == "SELECT 1" for s in below)


async def test_a_database_outage_keeps_the_whole_fetched_batch_alive(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """The database is away for three ack waits while a worker holds a batch: the worker waits
    with every delivery of the batch kept alive, so none is handed to the other worker of the same
    durable consumer (each redelivery counts towards max_deliver), and each applies once after."""
    quick = msgspec.structs.replace(settings, event_ack_wait=1.0)
    kind = f"tests.batchoutage{uuid.uuid4().hex[:8]}"
    back_at = time.monotonic() + 3.0
    applied: list[uuid.UUID] = []
    seen_by_second: list[uuid.UUID] = []

    def effect(seen: list[uuid.UUID] | None) -> Handler:
        async def apply(event: Envelope, con: asyncpg.Connection, state: None) -> None:
            if seen is not None:
                seen.append(event.id)
            if time.monotonic() < back_at:
                raise asyncpg.CannotConnectNowError("the database system is starting up")
            applied.append(event.id)

        return apply

    events = [new_event(kind) for _ in range(5)]
    for event in events:
        await publish(nc, settings, event)
    first = _consumer(quick, nc, users_worker, kind, effect(None))
    await first.start()
    await eventually(lambda: _delivered(nc, settings, first, len(events)))
    second = _consumer(quick, nc, users_worker, kind, effect(seen_by_second))  # same durable
    await second.start()
    try:
        await eventually(lambda: settled(nc, settings, first), timeout=20)
    finally:
        await second.stop()
        await first.stop()
    assert sorted(applied) == sorted(event.id for event in events)  # each once
    assert seen_by_second == []  # nothing was redelivered while the first held it


async def _delivered(nc: Client, settings: Settings, consumer: Consumer[None], count: int) -> bool:
    try:
        info = await nc.jetstream().consumer_info(settings.events_stream, consumer.sub.durable)
    except NotFoundError:
        return False
    return info.delivered.stream_seq > 0 and info.num_ack_pending == count
