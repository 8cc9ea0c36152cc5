"""The users actor's keys and revocations, kept current for one TokenVerifier.

Every component that verifies tokens but does not sign them (the edge, the loans and servicing
actors) builds its verifier here:
- the JWKS is fetched again every LOANS_JWKS_REFRESH_SECONDS (a rotation's new kid is known before
  the first token needs it, and a retired one stops verifying); an answer that is not a JWKS (an
  error reply, users down) keeps the keys held (actors/bus/tokens.py);
- revocations (actors/bus/revocations.py) arrive on `users.revocations.changed` as they are made,
  and the whole list is fetched at start, when the connection comes back (announcements may have
  been missed meanwhile) and with each key refresh.
`TokenVerifier.close()` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from nats.aio.client import Client

from actors.bus.client import request
from actors.bus.revocations import RevocationFeed
from actors.bus.tokens import TokenVerifier
from actors.contracts.config import Settings
from actors.contracts.errors import ActorError
from actors.contracts.sessions import REVOCATIONS_SUBJECT

log = logging.getLogger("actors.bus.users_keys")

JWKS_SUBJECT = "users.jwks"
_TICK = 1.0  # seconds between looks at the connection (a reconnect means: catch up now)
_RETRY_CATCH_UP = 5.0  # seconds before another try at the list after one failed


class UsersKeys:
    """Refreshes `verifier`'s keys and feeds its denylist, until the verifier is closed."""

    def __init__(
        self,
        verifier: TokenVerifier,
        fetch_revocations: Callable[[], Awaitable[bytes]],
        refresh_every: float,
    ) -> None:
        self.verifier = verifier
        self.feed = RevocationFeed(verifier.denylist, fetch_revocations)
        self.refresh_every = refresh_every
        self._task: asyncio.Task[None] | None = None

    async def start(self, nc: Client) -> None:
        """Listen for announcements first, then fetch the list: one made in between is in either."""
        await self.feed.subscribe(nc)
        caught_up = await self.feed.catch_up()
        self._task = asyncio.create_task(self._keep(nc, caught_up), name="users-keys")
        self.verifier.on_close(self.stop)

    async def _keep(self, nc: Client, caught_up: bool) -> None:
        now = time.monotonic()
        keys_due = now + self.refresh_every
        list_due = now + (self.refresh_every if caught_up else _RETRY_CATCH_UP)
        reconnects = nc.stats["reconnects"]
        while True:
            await asyncio.sleep(_TICK)
            now = time.monotonic()
            if nc.stats["reconnects"] != reconnects and nc.is_connected:
                reconnects = nc.stats["reconnects"]
                list_due = now
            if now >= keys_due:
                keys_due = now + self.refresh_every
                await self.verifier.refresh_keys()
                list_due = now
            if now >= list_due:
                ok = await self.feed.catch_up()
                list_due = time.monotonic() + (self.refresh_every if ok else _RETRY_CATCH_UP)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.feed.close()


async def users_keys_verifier(nc: Client, settings: Settings | None = None) -> TokenVerifier:
    """A verifier loaded with the users actor's keys now (or on the first token if users is not up),
    kept current on `nc` until it is closed."""

    async def users_jwks() -> bytes:
        return await request(nc, JWKS_SUBJECT, timeout=2.0)

    async def revocations() -> bytes:
        return await request(nc, REVOCATIONS_SUBJECT, timeout=2.0)

    verifier = TokenVerifier(users_jwks)
    try:
        verifier.load(await users_jwks())
    except (ActorError, ValueError):
        pass  # users not up yet (or no keys yet): the verifier fetches them on the first token
    refresh_every = settings.jwks_refresh_seconds if settings is not None else 300.0
    await UsersKeys(verifier, revocations, refresh_every).start(nc)
    return verifier
