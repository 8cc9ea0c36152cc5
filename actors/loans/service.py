"""Everything the loans actor needs to serve, built from the settings."""

from __future__ import annotations

from nats.aio.client import Client

from actors.bus.tokens import TokenVerifier
from actors.bus.users_keys import users_keys_verifier
from actors.contracts.config import Settings
from actors.loans import imports  # noqa: F401  (it registers on the actor)
from actors.loans.handlers import LoansState, actor
from actors.runtime.actor import Deployable


async def build(settings: Settings, nc: Client) -> tuple[LoansState, TokenVerifier]:
    return LoansState(), await users_keys_verifier(nc, settings)


DEPLOYABLE = Deployable(actor=actor, build=build)
