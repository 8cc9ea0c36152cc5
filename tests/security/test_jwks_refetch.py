"""The token verifier's JWKS re-fetches: at most one per interval, failed ones too; and a failed
or erroneous answer keeps the keys it holds (a real NATS responder plays the users actor)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.bus.client import request
from actors.bus.tokens import TokenVerifier
from actors.contracts.errors import Unauthenticated, Unavailable
from actors.contracts.headers import ERROR_CODE_HEADER, ERROR_HEADER
from actors.users.signing import SigningKey, load_or_create

pytestmark = pytest.mark.anyio

ERROR_REPLY = b'{"code":"internal_error","message":"internal error","details":null}'


async def _responder(nc: Client, answer: Callable[[Msg], Awaitable[None]]) -> tuple[str, list[int]]:
    """A JWKS subject of this test's own, answered by `answer`; the list counts the requests."""
    subject = f"test.jwks.{uuid.uuid4().hex}"
    seen: list[int] = []

    async def on_request(msg: Msg) -> None:
        seen.append(1)
        await answer(msg)

    await nc.subscribe(subject, cb=on_request)
    await nc.flush()
    return subject, seen


def _verifier(nc: Client, subject: str, key: SigningKey) -> TokenVerifier:
    async def fetch() -> bytes:
        return await request(nc, subject, timeout=2.0)

    verifier = TokenVerifier(fetch, refetch_every=60.0)
    verifier.load(key.jwks)
    return verifier


def _stranger(tmp_path: Path) -> SigningKey:
    """A key the verifier has never seen: its tokens name an unknown kid."""
    return load_or_create(tmp_path / f"{uuid.uuid4().hex}.pem")


@pytest.mark.parametrize("headers", [{ERROR_CODE_HEADER: "500", ERROR_HEADER: "internal error"}, None])
async def test_failed_fetches_are_throttled(
    nc: Client, tmp_path: Path, headers: dict[str, str] | None
) -> None:
    """Twenty tokens with unknown kids, every fetch answered with an error: one fetch, twenty 503s."""
    key = load_or_create(tmp_path / "key.pem")

    async def fail(msg: Msg) -> None:
        await nc.publish(msg.reply, ERROR_REPLY, headers=headers)

    subject, seen = await _responder(nc, fail)
    verifier = _verifier(nc, subject, key)
    for _ in range(20):
        with pytest.raises(Unavailable):
            await verifier.verify(_stranger(tmp_path).issue(uuid.uuid4(), "customer", 60))
    assert len(seen) == 1


async def test_an_answer_that_is_no_jwks_keeps_the_keys(nc: Client, tmp_path: Path) -> None:
    """An error body sent as a success (no keys in it) does not empty the key set."""
    key = load_or_create(tmp_path / "key.pem")

    async def garbage(msg: Msg) -> None:
        await nc.publish(msg.reply, ERROR_REPLY)

    subject, seen = await _responder(nc, garbage)
    verifier = _verifier(nc, subject, key)
    with pytest.raises(Unavailable):
        await verifier.verify(_stranger(tmp_path).issue(uuid.uuid4(), "customer", 60))
    assert len(seen) == 1
    assert (await verifier.verify(key.issue(uuid.uuid4(), "agent", 60))).role == "agent"


async def test_an_error_reply_keeps_the_keys(nc: Client, tmp_path: Path) -> None:
    """A micro error reply to the fetch: the token of a known key still verifies."""
    key = load_or_create(tmp_path / "key.pem")

    async def fail(msg: Msg) -> None:
        await nc.publish(msg.reply, ERROR_REPLY, headers={ERROR_CODE_HEADER: "503", ERROR_HEADER: "down"})

    subject, _ = await _responder(nc, fail)
    verifier = _verifier(nc, subject, key)
    with pytest.raises(Unavailable):
        await verifier.verify(_stranger(tmp_path).issue(uuid.uuid4(), "customer", 60))
    assert (await verifier.verify(key.issue(uuid.uuid4(), "admin", 60))).role == "admin"


async def test_a_new_key_is_fetched_once_due(nc: Client, tmp_path: Path) -> None:
    """A good answer still brings in a rotated key (the throttle does not stop the first fetch);
    a kid still unknown after it is 401."""
    key = load_or_create(tmp_path / "key.pem")
    rotated = _stranger(tmp_path)

    async def good(msg: Msg) -> None:
        await nc.publish(msg.reply, rotated.jwks)

    subject, seen = await _responder(nc, good)
    verifier = _verifier(nc, subject, key)
    assert (await verifier.verify(rotated.issue(uuid.uuid4(), "customer", 60))).role == "customer"
    assert len(seen) == 1
    with pytest.raises(Unauthenticated):  # the keys came; this kid is not among them: 401, no fetch
        await verifier.verify(_stranger(tmp_path).issue(uuid.uuid4(), "customer", 60))
    assert len(seen) == 1
