"""Small helpers the users-route tests share: envelopes, stored rows, tokens signed by hand."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from actors.contracts.config import Settings
from actors.users.service import key_path
from actors.users.signing import SigningKey, load_or_create
from tests.support.people import PASSWORD, Person, new_email

USERS = "/api/user"


@dataclass
class Desk:
    """An admin and an agent waiting for the admin's decision."""

    admin: Person
    pending: Person


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    """`response` is the error envelope with this status and code (and `details.field`, if given)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and isinstance(body["message"], str) and body["message"], body
    assert body["error"]["code"] == code, body
    if field is not None:
        assert (body["error"].get("details") or {}).get("field") == field, body


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True, body
    return body["data"]


def data_page(response: httpx.Response) -> dict[str, Any]:
    """The whole list envelope: data, count, page, page_size."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True, body
    return body


def signup_body(role: str = "customer", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": new_email(),
        "password": PASSWORD,
        "first_name": "Ann",
        "last_name": "Lee",
        "role": role,
    }
    body.update(fields)
    return body


async def login_status(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> int:
    response = await client.post(f"{USERS}/login", json={"email": email, "password": password})
    return response.status_code


# --- what is stored, read as the users actor's own role ----------------------------------------


async def stored(db: asyncpg.Pool, email: str) -> list[asyncpg.Record]:
    """Every row (deleted ones too) whose email matches case-insensitively."""
    return await db.fetch("SELECT * FROM users WHERE lower(email) = lower($1)", email)


async def row_of(db: asyncpg.Pool, user_id: str) -> asyncpg.Record:
    row = await db.fetchrow("SELECT * FROM users WHERE id = $1", uuid.UUID(user_id))
    assert row is not None
    return row


async def snapshot(db: asyncpg.Pool) -> tuple[Any, ...]:
    """Changes when any user row is inserted or updated, or any event is queued (the outbox's
    sequence: the relay deletes the rows it has sent)."""
    row = await db.fetchrow(
        "SELECT count(*), coalesce(sum(version), 0), max(updated_at), (SELECT last_value FROM outbox_seq_seq)"
        " FROM users"
    )
    assert row is not None
    return tuple(row)


# --- tokens ------------------------------------------------------------------------------------


def users_key(settings: Settings) -> SigningKey:
    """The users actor's own signing key (it exists: the worker made it at start)."""
    return load_or_create(key_path(settings))


def claims_for(user_id: str, role: str, ttl: int = 600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": user_id, "role": role, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    claims.update(extra)
    return claims


def sign(settings: Settings, claims: dict[str, Any], key: Ed25519PrivateKey | None = None) -> str:
    """A token with the users key's `kid`, signed by `key` (the real private key by default)."""
    real = users_key(settings)
    return jwt.encode(claims, key or real.private_key, algorithm="EdDSA", headers={"kid": real.kid})
