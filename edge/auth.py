"""Bearer tokens are checked at the edge against the users actor's public keys (from `users.jwks`).

A bad token is refused here with 401 and never reaches an actor; a good one is forwarded as
received, and the actor checks roles (the edge holds no business rule). A revoked one (logged out,
issued before a password change or a disabling) is a bad token too: the edge follows the users
actor's revocations and refreshes its keys as every actor does (actors/bus/users_keys.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

from actors.bus.tokens import TokenVerifier
from actors.bus.users_keys import JWKS_SUBJECT, UsersKeys
from actors.contracts.config import Settings
from actors.contracts.sessions import REVOCATIONS_SUBJECT
from edge.nats_call import Bus

log = logging.getLogger("edge.auth")


def verifier_for(bus: Bus) -> TokenVerifier:
    """A verifier that fetches the keys over NATS when it meets a `kid` it does not know yet."""

    async def fetch_jwks() -> bytes:
        return await bus.request(JWKS_SUBJECT, retry_safe=True)

    return TokenVerifier(fetch_jwks)


async def preload_jwks(bus: Bus, verifier: TokenVerifier, budget: float = 10.0) -> bool:
    """Load the keys before the first request needs them, retrying while the users worker starts.

    Gives up after `budget` seconds: the verifier then fetches lazily on the first token.
    """
    give_up_at = time.monotonic() + budget
    delay = 0.2
    while True:
        try:
            # Past the breaker: this loop is the retry, and workers still starting are no fault.
            verifier.load(await bus.request(JWKS_SUBJECT, circuit=False))
            return True
        except Exception as exc:  # no worker yet, bus down, or a malformed answer: try again
            if time.monotonic() + delay > give_up_at:
                log.warning(
                    "no JWKS from %s after %.0f s (%s); will fetch on demand", JWKS_SUBJECT, budget, exc
                )
                return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def keep_current(bus: Bus, verifier: TokenVerifier, settings: Settings) -> None:
    """Follow revocations and refresh the keys on the bus's connection until `verifier.close()`."""

    async def revocations() -> bytes:
        return await bus.request(REVOCATIONS_SUBJECT, retry_safe=True)

    assert bus.nc is not None, "connected first"
    await UsersKeys(verifier, revocations, settings.jwks_refresh_seconds).start(bus.nc)
