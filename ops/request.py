"""`loans request SUBJECT JSON`: what an internal tool does, one request straight on NATS."""

from __future__ import annotations

import sys
import time

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from actors.bus.connection import connect
from actors.contracts.config import Settings
from actors.contracts.headers import DEADLINE_HEADER, ERROR_CODE_HEADER


async def send(settings: Settings, subject: str, body: str, token: str | None, timeout: float) -> int:
    """Print the reply body on stdout; an error reply also goes there, and the exit code is 1."""
    nc = await connect(settings, "loans-request")
    headers = {DEADLINE_HEADER: str(int((time.time() + timeout) * 1000))}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        reply = await nc.request(subject, body.encode(), timeout=timeout, headers=headers)
    except NoRespondersError:
        print(f"loans: no worker is serving {subject}", file=sys.stderr)
        return 3
    except NatsTimeout:
        print(f"loans: no reply on {subject} within {timeout} s", file=sys.stderr)
        return 4
    finally:
        await nc.drain()
    sys.stdout.write(reply.data.decode(errors="replace") + "\n")
    status = (reply.headers or {}).get(ERROR_CODE_HEADER)
    if status:
        print(f"loans: error {status}", file=sys.stderr)
        return 1
    return 0
