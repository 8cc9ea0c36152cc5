"""`loans request SUBJECT JSON`: what an internal tool does, one request straight on NATS."""

from __future__ import annotations

import sys

from actors.bus.client import NO_RESPONDERS, OK, TIMEOUT, UNAVAILABLE, exchange
from actors.bus.connection import connect
from actors.contracts.config import Settings


async def send(settings: Settings, subject: str, body: str, token: str | None, timeout: float) -> int:
    """Print the reply body on stdout; an error reply also goes there, and the exit code is 1."""
    nc = await connect(settings, "loans-request")
    try:
        outcome, error, data = await exchange(nc, subject, body.encode(), timeout=timeout, token=token)
    finally:
        await nc.drain()
    if outcome == NO_RESPONDERS:
        print(f"loans: no worker is serving {subject}", file=sys.stderr)
        return 3
    if outcome == TIMEOUT:
        print(f"loans: no reply on {subject} within {timeout} s", file=sys.stderr)
        return 4
    if outcome == UNAVAILABLE and error is not None:  # the bus failed under us: no reply to print
        print(f"loans: {error.message}", file=sys.stderr)
        return 1
    sys.stdout.write(data.decode(errors="replace") + "\n")
    if outcome != OK:
        print(f"loans: error {outcome}", file=sys.stderr)
        return 1
    return 0
