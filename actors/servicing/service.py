"""Everything the servicing actor needs to serve, built from the settings."""

from __future__ import annotations

from nats.aio.client import Client

from actors.bus.client import request
from actors.bus.tokens import TokenVerifier
from actors.contracts.config import Settings
from actors.contracts.errors import ActorError
from actors.runtime.actor import Deployable

# The handler modules register on `actor` when imported: each one is imported here, once.
from actors.servicing import accounts as accounts
from actors.servicing import agents as agents
from actors.servicing import cob as cob
from actors.servicing import dates as dates
from actors.servicing import portfolio as portfolio
from actors.servicing import repayments as repayments
from actors.servicing import statements as statements
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
