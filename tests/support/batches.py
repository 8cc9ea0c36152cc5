"""Applying an actor's batch event handler directly, as its consumer applies a fetched batch."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from asyncpg.connection import LoggedQuery

from actors.contracts.envelope import Envelope
from actors.runtime.consumers import BatchHandler
from actors.runtime.serving import ServingActor


def envelope(
    event_type: str, aggregate_id: uuid.UUID, version: int, data: msgspec.Struct | dict[str, Any]
) -> Envelope:
    """An event as its consumer decodes it, made now."""
    return Envelope(
        id=uuid.uuid4(),
        type=event_type,
        occurred_at=datetime.now(UTC),
        aggregate_id=aggregate_id,
        version=version,
        data=msgspec.Raw(msgspec.json.encode(data)),
    )


async def apply_as_one_batch(
    worker: ServingActor[Any], handler: BatchHandler[Any], events: list[Envelope]
) -> list[str]:
    """Apply `events` with `handler` in one transaction on the worker's pool; the INSERTs it sent."""
    sent: list[str] = []

    def log(query: LoggedQuery) -> None:
        sent.append(query.query)

    async with worker.pool.acquire() as con:
        con.add_query_logger(log)
        try:
            async with con.transaction():
                await handler(events, con, worker.state)
        finally:
            con.remove_query_logger(log)
    await asyncio.sleep(0)  # the loggers are called soon after each statement, not in it
    return [s for s in sent if s.lstrip().startswith("INSERT")]
