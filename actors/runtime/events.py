"""Durable domain events: the envelope, the streams, and writing an event into the outbox.

A write and its event commit in one transaction (the `outbox` table of the actor's schema); the
relay (actors/runtime/outbox.py) publishes it to JetStream with `Nats-Msg-Id` = event id, so a publish
repeated after a crash is dropped by the stream's duplicate window. Consumers
(actors/runtime/consumers.py) apply each event once, recording its id in their `inbox` table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import NamedTuple

import msgspec
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError, BadRequestError

from actors.contracts.config import ConfigError, Settings
from actors.contracts.envelope import Envelope
from actors.runtime.db import Conn
from actors.runtime.sql import Statement
from otel import spans
from otel.setup import enabled as tracing

DUPLICATE_WINDOW = 120.0  # seconds within which a re-published event id is dropped
# JetStream's refusals of a replica count: a single server (10074) or too few servers (10023).
_REPLICAS_REFUSED = frozenset({10074, 10023})


_encoder = msgspec.json.Encoder()


def subject_for(settings: Settings, event_type: str) -> str:
    return f"{settings.events_prefix}.{event_type}"


class OutboxRow(NamedTuple):
    """An event as the `outbox` table stores it: the parameters of INSERT_OUTBOX (and of the
    statements that write an event beside other rows, which take this row type too)."""

    event_id: uuid.UUID
    event_subject: str
    event_payload: bytes
    event_headers: str  # JSON: the trace context of the span that wrote it, when tracing


# The statement names no schema: it runs on the actor's pool, whose search path is its schema.
INSERT_OUTBOX = Statement(
    """INSERT INTO outbox (id, subject, payload, headers)
       VALUES (:event_id, :event_subject, :event_payload, :event_headers::jsonb)""",
    OutboxRow,
)


@contextmanager
def outbox_row(
    settings: Settings,
    event_type: str,
    aggregate_id: uuid.UUID,
    version: int,
    data: msgspec.Struct,
    *,
    occurred_at: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> Iterator[OutboxRow]:
    """The outbox row of an event, for the statement in the with-block to insert (in the caller's
    transaction; the relay is woken at commit). With tracing on, the event's PRODUCER span is open
    around the block, and its context rides in the row's headers: the relay publishes it, and the
    consumers link to it."""
    event_id = uuid.uuid4()
    envelope = Envelope(
        id=event_id,
        type=event_type,
        occurred_at=occurred_at or datetime.now(UTC),
        aggregate_id=aggregate_id,
        version=version,
        data=msgspec.Raw(_encoder.encode(data)),
    )
    subject = subject_for(settings, event_type)
    payload = _encoder.encode(envelope)
    if not tracing():
        yield OutboxRow(event_id, subject, payload, _encoder.encode(headers or {}).decode())
        return
    carried = dict(headers or {})
    with spans.event_created(subject, str(event_id), carried):
        yield OutboxRow(event_id, subject, payload, _encoder.encode(carried).decode())


async def emit(
    con: Conn,
    settings: Settings,
    event_type: str,
    aggregate_id: uuid.UUID,
    version: int,
    data: msgspec.Struct,
    headers: dict[str, str] | None = None,
) -> uuid.UUID:
    """Add an event to the outbox of the connection's actor, inside the caller's transaction; the
    relay is woken at commit (by the outbox's trigger, db/<schema>/0004_outbox_notify.sql)."""
    with outbox_row(settings, event_type, aggregate_id, version, data, headers=headers) as row:
        await con.execute(INSERT_OUTBOX.sql, *INSERT_OUTBOX.args_of(row))
    return row.event_id


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Create or update the events stream and its dead-letter stream; safe when workers race."""
    for config in (
        StreamConfig(
            name=settings.events_stream,
            subjects=[f"{settings.events_prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW,
            num_replicas=settings.events_replicas,
        ),
        StreamConfig(
            name=settings.dlq_stream,
            subjects=[f"dlq.{settings.events_prefix}.>"],
            storage=StorageType.FILE,
            num_replicas=settings.events_replicas,
        ),
    ):
        try:
            try:
                await js.add_stream(config)
            except BadRequestError:
                # exists with another config (an older version of ours): bring it up to date
                await js.update_stream(config)
        except APIError as exc:
            if exc.err_code not in _REPLICAS_REFUSED or settings.events_replicas == 1:
                raise  # with one copy, "insufficient resources" is the disk or a limit
            # the operator's setting, not a fault: stop with the variable named, as for any other
            n = settings.events_replicas
            raise ConfigError(
                f"LOANS_EVENTS_REPLICAS={n}: JetStream refused {n} copies of {config.name} "
                f"({exc.description}); it can be at most the number of NATS servers (1 for one)"
            ) from None
