"""`loans events tail | dlq | replay ID`: what an operator needs to watch and mend the event flow."""

from __future__ import annotations

import asyncio
import sys

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.bus.connection import connect
from actors.contracts.config import Settings
from actors.runtime.dead_letters import dead_letters, replay
from actors.runtime.events import ensure_streams


async def run(settings: Settings, command: str, key: str | None, seconds: float | None) -> int:
    nc = await connect(settings, "loans-events")
    js = nc.jetstream()
    try:
        await ensure_streams(js, settings)
        if command == "dlq":
            letters = await dead_letters(js, settings)
            for letter in letters:
                print(
                    f"{letter.seq}\t{letter.event_id}\t{letter.subject}\t{letter.consumer}\t{letter.reason}"
                )
            print(f"{len(letters)} dead letter(s)", file=sys.stderr)
            return 0
        if command == "replay":
            assert key is not None
            done = await replay(js, settings, key)
            if done is None:
                print(f"loans: no dead letter {key}", file=sys.stderr)
                return 1
            print(f"replayed {done.event_id} to {done.subject}")
            return 0
        return await _tail(nc, settings, seconds)
    finally:
        await nc.drain()


async def _tail(nc: Client, settings: Settings, seconds: float | None) -> int:
    """Print each event as it flows (a plain subscription: it sees new events, consumes none)."""

    async def show(msg: Msg) -> None:
        event = msgspec.json.decode(msg.data)
        print(msgspec.json.encode({"subject": msg.subject, **event}).decode(), flush=True)

    await nc.subscribe(f"{settings.events_prefix}.>", cb=show)
    try:
        if seconds is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        pass
    return 0
