"""Everything the servicing actor needs to serve, built from the settings."""

from __future__ import annotations

from nats.aio.client import Client

from actors.bus.tokens import TokenVerifier
from actors.bus.users_keys import users_keys_verifier
from actors.contracts.config import Settings
from actors.runtime.actor import Deployable

# The handler modules register on `actor` when imported: each one is imported here, once.
from actors.servicing import accounts as accounts
from actors.servicing import agents as agents
from actors.servicing import cob as cob
from actors.servicing import cob_metrics as cob_metrics
from actors.servicing import dates as dates
from actors.servicing import portfolio as portfolio
from actors.servicing import repayments as repayments
from actors.servicing import statements as statements
from actors.servicing.actor import ServicingState, actor


async def build(settings: Settings, nc: Client) -> tuple[ServicingState, TokenVerifier]:
    return ServicingState(), await users_keys_verifier(nc, settings)


DEPLOYABLE = Deployable(actor=actor, build=build)
