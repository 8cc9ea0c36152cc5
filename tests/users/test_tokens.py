"""Forged, broken and stale bearer tokens: every one is 401 `unauthenticated` and writes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from actors.contracts.config import Settings
from tests.support.people import PASSWORD, Person, new_email, signup
from tests.support.users import USERS, Desk, assert_error, claims_for, login_status, sign, snapshot, users_key

pytestmark = pytest.mark.anyio


@dataclass
class Marks:
    """Whose tokens are forged or altered, and the pending agent the forgeries try to approve or delete."""

    admin: Person
    customer: Person
    pending: Person


@pytest.fixture
async def who(client: httpx.AsyncClient, desk: Desk) -> Marks:
    return Marks(admin=desk.admin, customer=await signup(client), pending=desk.pending)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64json(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj).encode())


def unb64json(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def expired(settings: Settings, who: Marks) -> str:
    now = int(time.time())
    return sign(settings, claims_for(who.admin.id, "admin", iat=now - 3700, exp=now - 100))


def tampered_payload(settings: Settings, who: Marks) -> str:
    # The customer's real token, its payload rewritten to say admin, the signature kept.
    assert who.customer.token
    head, payload, signature = who.customer.token.split(".")
    claims = {**unb64json(payload), "role": "admin"}
    return f"{head}.{b64json(claims)}.{signature}"


def tampered_signature(settings: Settings, who: Marks) -> str:
    # Flip a character in the middle: the last one carries unused bits and may decode the same.
    assert who.admin.token
    head, payload, signature = who.admin.token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


def alg_none(settings: Settings, who: Marks) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": users_key(settings).kid}
    return f"{b64json(header)}.{b64json(claims_for(who.admin.id, 'admin'))}."


def hs256_with_public_key(settings: Settings, who: Marks) -> str:
    # The classic key confusion: HMAC keyed with the (public, published) verification key.
    key = users_key(settings)
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}." + b64json(
        claims_for(who.admin.id, "admin")
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def unknown_kid(settings: Settings, who: Marks) -> str:
    import jwt

    fresh = Ed25519PrivateKey.generate()
    claims = claims_for(who.admin.id, "admin")
    return jwt.encode(claims, fresh, algorithm="EdDSA", headers={"kid": "kid-" + uuid.uuid4().hex})


def known_kid_wrong_key(settings: Settings, who: Marks) -> str:
    return sign(settings, claims_for(who.admin.id, "admin"), key=Ed25519PrivateKey.generate())


def role_superuser(settings: Settings, who: Marks) -> str:
    return sign(settings, claims_for(who.admin.id, "superuser"))


def no_expiry(settings: Settings, who: Marks) -> str:
    claims = claims_for(who.admin.id, "admin")
    del claims["exp"]
    return sign(settings, claims)


def subject_not_a_uuid(settings: Settings, who: Marks) -> str:
    return sign(settings, claims_for("admin", "admin"))


def user_who_never_existed(settings: Settings, who: Marks) -> str:
    return sign(settings, claims_for(str(uuid.uuid4()), "admin"))


TOKENS: dict[str, Callable[[Settings, Marks], str]] = {
    "expired": expired,
    "tampered payload": tampered_payload,
    "tampered signature": tampered_signature,
    "alg none": alg_none,
    "HS256 keyed with the public key": hs256_with_public_key,
    "unknown kid": unknown_kid,
    "known kid, another key": known_kid_wrong_key,
    "role superuser": role_superuser,
    "no exp claim": no_expiry,
    "sub not a UUID": subject_not_a_uuid,
    "sub names nobody": user_who_never_existed,
}

# Authorization header values that carry no usable token at all.
HEADERS = {
    "garbage": "garbage",
    "Bearer garbage": "Bearer garbage",
    "Bearer three dots": "Bearer a.b.c",
    "Basic credentials": "Basic " + b64(b"admin:" + PASSWORD.encode()),
    "Bearer alone": "Bearer",
    "Bearer and a space": "Bearer ",
    "Bearer and spaces": "Bearer     ",
}


async def assert_refused_everywhere(
    client: httpx.AsyncClient, who: Marks, users_db: asyncpg.Pool, authorization: str
) -> None:
    """Each kind of users route refuses `authorization` with 401, and nothing is stored or changed."""
    headers = {"Authorization": authorization}
    before = await snapshot(users_db)
    admin_email = new_email("admin")
    body = {"email": admin_email, "password": PASSWORD, "first_name": "A", "last_name": "B"}
    pending = who.pending.id
    responses = [
        await client.get(f"{USERS}/profile", headers=headers),
        await client.get(f"{USERS}/list-users", headers=headers),
        await client.post(f"{USERS}/create-admin", json=body, headers=headers),
        await client.put(f"{USERS}/approve-delete/{pending}", json={"is_approved": True}, headers=headers),
        await client.delete(f"{USERS}/approve-delete/{pending}", headers=headers),
    ]
    for response in responses:
        assert_error(response, 401, "unauthenticated")
    assert await snapshot(users_db) == before
    assert await login_status(client, admin_email) == 401
    assert await login_status(client, who.pending.email) == 403  # neither approved nor deleted


@pytest.mark.parametrize("make", TOKENS.values(), ids=TOKENS.keys())
async def test_a_bad_token_is_401_and_writes_nothing(
    client: httpx.AsyncClient,
    who: Marks,
    settings: Settings,
    users_db: asyncpg.Pool,
    make: Callable[[Settings, Marks], str],
) -> None:
    """A token that is stale, altered, wrongly signed or claims too much opens no route."""
    await assert_refused_everywhere(client, who, users_db, f"Bearer {make(settings, who)}")


@pytest.mark.parametrize("authorization", HEADERS.values(), ids=HEADERS.keys())
async def test_a_header_without_a_token_is_401_and_writes_nothing(
    client: httpx.AsyncClient, who: Marks, users_db: asyncpg.Pool, authorization: str
) -> None:
    """An Authorization header that holds no bearer token is the same as none."""
    await assert_refused_everywhere(client, who, users_db, authorization)


async def test_the_real_tokens_still_work(client: httpx.AsyncClient, who: Marks, settings: Settings) -> None:
    """The forgeries above fail for what they change, not for the key or the claims: these pass."""
    for token in (who.admin.token, sign(settings, claims_for(who.admin.id, "admin"))):
        response = await client.get(f"{USERS}/list-users", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
