"""Signup: emails with invisible, direction-changing or look-alike characters are 400; the answer
kept 24 h for Idempotency-Key replays holds no token, and a replay gets a fresh one."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import jwt
import msgspec
import pytest

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from tests.support.people import bearer
from tests.support.users import assert_error, data, signup_body

pytestmark = pytest.mark.anyio


def _email(local: str, domain: str = "example.com") -> str:
    return f"{local}{str(uuid.uuid4().int)[:10]}@{domain}"  # digits: no second script


REFUSED = {
    "zero-width space": _email("ann\u200b"),
    "zero-width joiner in the domain": f"ann{uuid.uuid4().hex[:8]}@exa\u200dmple.com",
    "right-to-left override": _email("ann\u202e"),
    "bidi isolate": _email("ann\u2067"),
    "byte order mark": _email("\ufeffann"),
    "soft hyphen": _email("an\u00adn"),
    "Cyrillic a among Latin letters": _email("p\u0430ypal"),
    "Greek omicron in a Latin domain": f"ann{uuid.uuid4().hex[:8]}@g\u03bfogle.com",
    "full-width letters": _email("\uff41nn"),
    "mathematical bold letter": _email("\U0001d41ann"),
    "combining mark": _email("ann\u0336"),
}
ACCEPTED = {
    "accented Latin": _email("jos\u00e9"),
    "all Cyrillic local part": _email("\u0438\u0432\u0430\u043d"),
    "all Cyrillic address": _email(
        "\u0438\u0432\u0430\u043d", "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"
    ),
}


@pytest.mark.parametrize("email", REFUSED.values(), ids=REFUSED.keys())
async def test_look_alike_or_invisible_email_is_400(client: httpx.AsyncClient, email: str) -> None:
    """Each hostile email is refused with 400 naming the email field, and no user is made."""
    response = await client.post("/api/user/signup", json=signup_body(email=email))
    assert_error(response, 400, "validation_error", field="email")


@pytest.mark.parametrize("email", ACCEPTED.values(), ids=ACCEPTED.keys())
async def test_one_script_international_email_is_accepted(client: httpx.AsyncClient, email: str) -> None:
    """Addresses in one script per part (non-Latin too) still sign up."""
    response = await client.post("/api/user/signup", json=signup_body(email=email))
    assert data(response, 201)["user"]["email"] == email


async def test_stored_signup_answer_holds_no_token_and_a_replay_gets_a_fresh_one(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """The idempotency row of a customer's signup has no token; its replay answers a working one."""
    key = uuid.uuid4().hex
    body = signup_body()
    first = data(await client.post("/api/user/signup", json=body, headers={"Idempotency-Key": key}), 201)
    assert first["access_token"]
    con = await asyncpg.connect(role_dsn(settings, "users"))
    try:
        stored = await con.fetchval("SELECT reply FROM users.idempotency WHERE key = $1", key)
    finally:
        await con.close()
    assert stored is not None
    assert first["access_token"].encode() not in bytes(stored)
    assert msgspec.json.decode(bytes(stored))["access_token"] is None

    again = data(await client.post("/api/user/signup", json=body, headers={"Idempotency-Key": key}), 201)
    assert again["user"] == first["user"]
    assert again["access_token"] and again["expires_in"] == first["expires_in"]
    assert (
        jwt.decode(again["access_token"], options={"verify_signature": False})["sub"] == first["user"]["id"]
    )
    profile = await client.get("/api/user/profile", headers=bearer(again["access_token"]))
    assert profile.status_code == 200, profile.text
