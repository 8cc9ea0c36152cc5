"""One way to connect to NATS, with reconnect settings chosen on purpose (design.md §8)."""

from __future__ import annotations

import nats
from nats.aio.client import Client

from actors.config import Settings


async def connect(settings: Settings, name: str) -> Client:
    # Keep trying for ever (a worker has nothing better to do), but buffer little while
    # disconnected so callers fail fast instead of blocking for minutes.
    return await nats.connect(
        # several servers of a cluster: LOANS_NATS_URL=nats://a:4222,nats://b:4222
        [url.strip() for url in settings.require_nats_url().split(",") if url.strip()],
        name=name,
        connect_timeout=2,
        reconnect_time_wait=0.5,
        max_reconnect_attempts=-1,
        pending_size=8 * 1024 * 1024,
        allow_reconnect=True,
        user=settings.nats_user,
        password=settings.nats_password,
    )
