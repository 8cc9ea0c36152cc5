"""Everything the users actor needs to serve, built from the settings."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client

from actors.bus.tokens import TokenVerifier
from actors.contracts.config import Settings
from actors.runtime.actor import Deployable
from actors.users import (  # noqa: F401  (they register on the actor)
    accounts,
    agents,
    directory,
    imports,
    loan_activity,
    mailer,
    servicing_activity,
    sessions,
)
from actors.users.actor import UsersState, actor
from actors.users.passwords import Passwords
from actors.users.signing import load_or_create


def key_path(settings: Settings) -> Path:
    if settings.jwt_private_key_file:
        return Path(settings.jwt_private_key_file)
    return settings.data_path / "jwt" / "ed25519.pem"


async def build(settings: Settings, nc: Client) -> tuple[UsersState, TokenVerifier]:
    key = load_or_create(key_path(settings))
    state = UsersState(
        signing_key=key,
        passwords=Passwords(
            settings.bcrypt_cost,
            settings.bcrypt_threads,
            queue=settings.bcrypt_queue,
            deadline=settings.request_timeout,
        ),
        token_ttl=settings.jwt_ttl_seconds,
    )

    async def own_keys() -> bytes:
        return key.jwks

    verifier = TokenVerifier(own_keys)
    verifier.load(key.jwks)
    return state, verifier


def make_signing_key(settings: Settings) -> None:
    """Once per deployment, before several workers race to make the key."""
    load_or_create(key_path(settings))


DEPLOYABLE = Deployable(actor=actor, build=build, prepare=make_signing_key)
