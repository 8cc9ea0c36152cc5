"""Token verification: what a verified token proved is remembered until it expires, and no longer."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import jwt
import pytest

from actors.bus import tokens
from actors.bus.tokens import TokenVerifier
from actors.contracts.errors import Unauthenticated
from actors.users.signing import load_or_create

pytestmark = pytest.mark.anyio


def verifier_and_key(tmp_path: Path) -> tuple[TokenVerifier, object]:
    key = load_or_create(tmp_path / "key.pem")

    async def jwks() -> bytes:
        return key.jwks

    verifier = TokenVerifier(jwks)
    verifier.load(key.jwks)
    return verifier, key


async def test_a_token_is_verified_once_then_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier, key = verifier_and_key(tmp_path)
    token = key.issue(uuid.uuid4(), "customer", 60)  # type: ignore[attr-defined]
    calls = []
    real = jwt.decode
    monkeypatch.setattr(tokens.jwt, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = await verifier.verify(token)
    second = await verifier.verify(token)
    assert first == second and len(calls) == 1


async def test_a_remembered_token_stops_working_when_it_expires(tmp_path: Path) -> None:
    verifier, key = verifier_and_key(tmp_path)
    token = key.issue(uuid.uuid4(), "agent", 1)  # type: ignore[attr-defined]
    await verifier.verify(token)
    await asyncio.sleep(2.1)  # past exp (whole seconds) on every clock involved
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(token)


async def test_a_tampered_copy_of_a_remembered_token_is_refused(tmp_path: Path) -> None:
    verifier, key = verifier_and_key(tmp_path)
    token = key.issue(uuid.uuid4(), "customer", 60)  # type: ignore[attr-defined]
    await verifier.verify(token)
    head, payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"customer"', b'"admin"')
    ).decode()
    with pytest.raises(Unauthenticated):
        await verifier.verify(f"{head}.{forged}.{signature}")


async def test_a_rotated_key_keeps_verifying_its_tokens_while_new_ones_use_the_new_key(
    tmp_path: Path,
) -> None:
    """Rotation: the old key moves to previous/, a new key signs; both kids are in the JWKS."""
    old = load_or_create(tmp_path / "ed25519.pem")
    old_token = old.issue(uuid.uuid4(), "customer", 60)
    (tmp_path / "previous").mkdir()
    (tmp_path / "ed25519.pem").rename(tmp_path / "previous" / "2026-11.pem")
    new = load_or_create(tmp_path / "ed25519.pem")
    assert new.kid != old.kid

    async def jwks() -> bytes:
        return new.jwks

    verifier = TokenVerifier(jwks)
    verifier.load(new.jwks)
    assert (await verifier.verify(old_token)).role == "customer"
    assert (await verifier.verify(new.issue(uuid.uuid4(), "agent", 60))).role == "agent"
    assert jwt.get_unverified_header(new.issue(uuid.uuid4(), "agent", 60))["kid"] == new.kid
