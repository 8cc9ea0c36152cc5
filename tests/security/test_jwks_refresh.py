"""The verifiers' periodic JWKS refresh (actors/bus/users_keys.py): a rotation's new key is known
before any token asks for it, a retired key stops verifying (cached tokens too), and an error
reply or an empty key set keeps the keys held. A real NATS responder plays the users actor."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.bus.client import request
from actors.bus.tokens import TokenVerifier
from actors.bus.users_keys import UsersKeys
from actors.contracts.errors import Unauthenticated
from actors.contracts.headers import ERROR_CODE_HEADER, ERROR_HEADER
from actors.users.signing import SigningKey, load_or_create
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio

REFRESH_EVERY = 1.0  # the smallest LOANS_JWKS_REFRESH_SECONDS allows


def _jwks(*keys: SigningKey) -> bytes:
    entries = b",".join(k.jwks.removeprefix(b'{"keys": [').removesuffix(b"]}") for k in keys)
    return b'{"keys": [' + entries + b"]}"


class UsersActorStandIn:
    """Answers a JWKS subject of the test's own with whatever `answer` is now; counts requests."""

    def __init__(self, answer: bytes) -> None:
        self.subject = f"test.jwks.{uuid.uuid4().hex}"
        self.answer = answer
        self.error = False
        self.requests = 0
        self.nc: Client | None = None  # set when it subscribes: the error reply is a publish

    async def on_request(self, msg: Msg) -> None:
        self.requests += 1
        if self.error:
            # A publish: Msg.respond takes no headers (nats-py 2.16), and the runtime replies so too.
            assert self.nc is not None
            await self.nc.publish(
                msg.reply, b'{"code":"internal_error"}', headers={ERROR_CODE_HEADER: "500", ERROR_HEADER: "x"}
            )
        else:
            await msg.respond(self.answer)


async def _kept_current(nc: Client, users: UsersActorStandIn, first: SigningKey) -> TokenVerifier:
    users.nc = nc
    await nc.subscribe(users.subject, cb=users.on_request)
    await nc.flush()

    async def fetch() -> bytes:
        return await request(nc, users.subject, timeout=2.0)

    async def no_revocations() -> bytes:
        return b"{}"

    verifier = TokenVerifier(fetch, refetch_every=60.0)  # lazy fetches throttled out of the way
    verifier.load(first.jwks)
    await UsersKeys(verifier, no_revocations, REFRESH_EVERY).start(nc)
    return verifier


async def test_rotation_is_picked_up_and_a_retired_key_stops_verifying(nc: Client, tmp_path: Path) -> None:
    old = load_or_create(tmp_path / "old.pem")
    new = load_or_create(tmp_path / "new.pem")
    users = UsersActorStandIn(_jwks(old))
    verifier = await _kept_current(nc, users, old)
    try:
        old_token = old.issue(uuid.uuid4(), "customer", 600)
        await verifier.verify(old_token)
        users.answer = _jwks(new, old)  # rotated: the new key signs, the old one still verifies
        asked = users.requests
        await eventually(lambda: users.requests > asked, timeout=3 * REFRESH_EVERY, what="no refresh")
        before = users.requests
        await verifier.verify(new.issue(uuid.uuid4(), "admin", 600))  # known already: no fetch of its own
        assert users.requests == before
        await verifier.verify(old_token)
        users.answer = _jwks(new)  # the old key retired

        async def old_refused() -> bool:
            try:
                await verifier.verify(old_token)  # verified (and cached) before, refused now
            except Unauthenticated:
                return True
            return False

        await eventually(old_refused, timeout=3 * REFRESH_EVERY, what="the retired key still verifies")
    finally:
        await verifier.close()


@pytest.mark.parametrize("bad", ["error reply", "no keys", "not JSON"])
async def test_a_bad_answer_to_a_refresh_keeps_the_keys(nc: Client, tmp_path: Path, bad: str) -> None:
    """Refreshes answered with an error reply, `{"keys": []}` or garbage: tokens keep verifying."""
    key = load_or_create(tmp_path / "key.pem")
    users = UsersActorStandIn(_jwks(key))
    verifier = await _kept_current(nc, users, key)
    try:
        users.error = bad == "error reply"
        users.answer = {"no keys": b'{"keys": []}', "not JSON": b"<html>", "error reply": b""}[bad]
        asked = users.requests
        await eventually(lambda: users.requests >= asked + 2, timeout=4 * REFRESH_EVERY, what="no refresh")
        started = time.monotonic()
        await verifier.verify(key.issue(uuid.uuid4(), "customer", 600))  # a fresh token: not cached
        assert time.monotonic() - started < 1.0  # no fetch needed
    finally:
        await verifier.close()
