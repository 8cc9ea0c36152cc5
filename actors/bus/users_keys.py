"""The verifier every actor but users builds: the users actor's public keys, asked on `users.jwks`."""

from __future__ import annotations

from nats.aio.client import Client

from actors.bus.client import request
from actors.bus.tokens import TokenVerifier
from actors.contracts.errors import ActorError


async def users_keys_verifier(nc: Client) -> TokenVerifier:
    """A verifier loaded with the users actor's keys now, or on the first token if users is not up."""

    async def users_jwks() -> bytes:
        return await request(nc, "users.jwks", timeout=2.0)

    verifier = TokenVerifier(users_jwks)
    try:
        verifier.load(await users_jwks())
    except (ActorError, ValueError):
        pass  # users not up yet (or no keys yet): the verifier fetches them on the first token
    return verifier
