"""Throwaway events on the run's stream, and waiting for a test's consumer to settle them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.runtime.consumers import Consumer
from actors.runtime.events import subject_for
from tests.support.polling import eventually


def new_event(event_type: str) -> Envelope:
    """An event of a type only this test subscribes to, about a fresh aggregate."""
    return Envelope(
        id=uuid.uuid4(),
        type=event_type,
        occurred_at=datetime.now(UTC),
        aggregate_id=uuid.uuid4(),
        version=1,
        data=msgspec.Raw(b'{"n": 1}'),
    )


async def publish(
    nc: Client, settings: Settings, event: Envelope, *, msg_id: str | None = None, **headers: str
) -> None:
    """Publish as a relay does: deduplicated by `msg_id` (the event's id unless given)."""
    await nc.jetstream().publish(
        subject_for(settings, event.type),
        msgspec.json.encode(event),
        headers={"Nats-Msg-Id": msg_id or str(event.id), **headers},
    )


async def settled(nc: Client, settings: Settings, consumer: Consumer[None]) -> bool:
    """Every delivery acked (or terminated): nothing pending, nothing waiting for an ack."""
    try:
        info = await nc.jetstream().consumer_info(settings.events_stream, consumer.sub.durable)
    except NotFoundError:  # not created yet
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0


async def run_until_settled(
    nc: Client, settings: Settings, consumer: Consumer[None], within: float = 10.0
) -> None:
    """Start `consumer`, wait until every event waiting for it is settled, and stop it."""
    await consumer.start()
    try:
        await eventually(
            lambda: settled(nc, settings, consumer), timeout=within, what="the consumer did not settle"
        )
    finally:
        await consumer.stop()
