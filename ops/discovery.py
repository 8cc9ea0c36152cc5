"""Ask every replica at once: one request, many replies (the micro protocol's $SRV subjects)."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg


async def gather(nc: Client, subject: str, wait: float = 0.5) -> list[bytes]:
    """Publish on `subject` and collect every reply that arrives within `wait` seconds."""
    inbox = nc.new_inbox()
    replies: list[bytes] = []

    async def collect(msg: Msg) -> None:
        # Where nobody serves the subject, the server answers once with an empty 503 status
        # (no responders): that is no replica, not a reply to decode.
        if msg.data:
            replies.append(msg.data)

    sub = await nc.subscribe(inbox, cb=collect)
    try:
        await nc.publish(subject, b"", reply=inbox)
        await nc.flush()
        await asyncio.sleep(wait)
    finally:
        await sub.unsubscribe()
    return replies
