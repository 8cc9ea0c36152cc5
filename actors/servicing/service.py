"""Everything the servicing actor needs to serve, built from the settings."""

from __future__ import annotations

from nats.aio.client import Client

from actors.bus.client import request
from actors.bus.tokens import TokenVerifier
from actors.contracts.config import Settings
from actors.contracts.errors import ActorError
from actors.runtime.actor import Deployable
from actors.servicing.actor import ServicingState, actor


async def build(settings: Settings, nc: Client) -> tuple[ServicingState, TokenVerifier]:
    async def users_jwks() -> bytes:
        return await request(nc, "users.jwks", timeout=2.0)

    verifier = TokenVerifier(users_jwks)
    try:
        verifier.load(await users_jwks())
    except ActorError:
        pass  # users not up yet: the verifier fetches the keys on the first token it sees
    return ServicingState(), verifier


DEPLOYABLE = Deployable(actor=actor, build=build)
