"""Bring the JetStream streams' settings up to date: `loans up` and `loans migrate` do it as the
tools user, since an actor's NATS user may create a missing stream but not change one (issue 12
M5, deploy/nats-authorization.conf)."""

from __future__ import annotations

import asyncio

from actors.bus.connection import connect
from actors.contracts.config import Settings
from actors.runtime.events import ensure_streams
from actors.runtime.work_queue import ensure_work_stream

TIMEOUT = 20.0  # a NATS that cannot be reached stops the command instead of retrying for ever


async def bring_streams_up_to_date(settings: Settings) -> None:
    """Create or update the events, dead-letter and work-queue streams."""
    nc = await asyncio.wait_for(connect(settings, "loans-streams"), TIMEOUT)
    try:
        js = nc.jetstream()
        await asyncio.wait_for(ensure_streams(js, settings), TIMEOUT)
        await asyncio.wait_for(ensure_work_stream(js, settings), TIMEOUT)
    finally:
        await nc.drain()
