"""Bodies of the wrong shape, type or size are 400 (413 when too big) naming the field; nothing is written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.people import PASSWORD, new_email, signup
from tests.support.users import USERS, Desk, assert_error, data, login_status, signup_body, snapshot, stored

pytestmark = pytest.mark.anyio

ROUTES = ("signup", "login", "create-admin", "approve")
LIMIT = 64 * 1024  # api.md: bodies over 64 KiB → 413


def valid_body(route: str) -> dict[str, Any]:
    if route == "signup":
        return signup_body()
    if route == "login":
        return {"email": new_email(), "password": PASSWORD}
    if route == "create-admin":
        return {"email": new_email("admin"), "password": PASSWORD, "first_name": "Ada", "last_name": "Min"}
    return {"is_approved": True}


async def send(
    client: httpx.AsyncClient, desk: Desk, route: str, content: bytes | AsyncIterator[bytes]
) -> httpx.Response:
    """POST/PUT raw bytes to `route` as the admin (whose token no route here refuses)."""
    headers = {"Content-Type": "application/json", **desk.admin.headers}
    if route == "approve":
        path = f"{USERS}/approve-delete/{desk.pending.id}"
        return await client.put(path, content=content, headers=headers)
    return await client.post(f"{USERS}/{route}", content=content, headers=headers)


async def assert_refused(
    client: httpx.AsyncClient,
    desk: Desk,
    users_db: asyncpg.Pool,
    route: str,
    content: bytes,
    field: str | None = None,
) -> None:
    """`content` on `route` is 400 `validation_error` (naming `field`), and nothing is written."""
    before = await snapshot(users_db)
    assert_error(await send(client, desk, route, content), 400, "validation_error", field)
    assert await snapshot(users_db) == before
    assert await login_status(client, desk.pending.email) == 403  # still pending


SHAPES = {
    "malformed JSON": b'{"email": "a@b.io", ',
    "trailing garbage": b'{"is_approved": true} x',
    "array": b"[]",
    "array of an object": b'[{"is_approved": true}]',
    "string": b'"is_approved"',
    "number": b"42",
    "null": b"null",
    "true": b"true",
    "empty": b"",
    "blank": b"   \n",
    "not UTF-8": b'{"email": "\xff\xfe"}',
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("content", SHAPES.values(), ids=SHAPES.keys())
async def test_a_body_that_is_not_a_json_object_is_400(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, route: str, content: bytes
) -> None:
    """Anything but a JSON object where one is required is 400, and nothing is written."""
    await assert_refused(client, desk, users_db, route, content)


WRONG_TYPES = [
    ("signup", "role", 5),
    ("signup", "role", None),
    ("signup", "email", 5),
    ("signup", "password", 12345678),
    ("signup", "first_name", ["Ann"]),
    ("signup", "last_name", {"name": "Lee"}),
    ("login", "email", 5),
    ("login", "password", 123456789),
    ("create-admin", "first_name", 5),
    ("create-admin", "password", None),
    ("approve", "is_approved", "yes"),
    ("approve", "is_approved", "true"),
    ("approve", "is_approved", 1),
    ("approve", "is_approved", None),
]


@pytest.mark.parametrize(("route", "field", "value"), WRONG_TYPES)
async def test_a_field_of_the_wrong_type_is_400_naming_it(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, route: str, field: str, value: Any
) -> None:
    """A field of the wrong JSON type is refused by name (never coerced), and nothing is written."""
    body = {**valid_body(route), field: value}
    await assert_refused(client, desk, users_db, route, json.dumps(body).encode(), field)


MISSING = [(route, field) for route in ROUTES for field in valid_body(route)]


@pytest.mark.parametrize(("route", "field"), MISSING)
async def test_a_missing_field_is_400_naming_it(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, route: str, field: str
) -> None:
    """Every required field is required, and its absence is reported by name."""
    body = {k: v for k, v in valid_body(route).items() if k != field}
    await assert_refused(client, desk, users_db, route, json.dumps(body).encode(), field)


@pytest.mark.parametrize("role", ["admin", "superuser", "Customer", "", "customer "])
async def test_signup_with_a_role_other_than_customer_or_agent_is_400(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, role: str
) -> None:
    """Nobody signs up as admin (or anything unknown): 400 naming `role`, and no user is made."""
    body = signup_body(role=role)
    await assert_refused(client, desk, users_db, "signup", json.dumps(body).encode(), "role")
    assert await stored(users_db, body["email"]) == []


async def padded(route: str, size: int) -> bytes:
    """A valid body of exactly `size` bytes (the padding is an unknown field, which is ignored)."""
    body = {**valid_body(route), "pad": ""}
    bare = len(json.dumps(body).encode())
    body["pad"] = "x" * (size - bare)
    encoded = json.dumps(body).encode()
    assert len(encoded) == size
    return encoded


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_64_kib_is_413_and_writes_nothing(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, route: str, streamed: bool
) -> None:
    """One byte over the limit is 413 `payload_too_large`, announced or streamed; nothing is written."""
    content = await padded(route, LIMIT + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 4096):
            yield content[start : start + 4096]

    before = await snapshot(users_db)
    response = await send(client, desk, route, chunks() if streamed else content)
    assert_error(response, 413, "payload_too_large")
    assert await snapshot(users_db) == before
    assert await login_status(client, desk.pending.email) == 403


@pytest.mark.parametrize("route", ["signup", "create-admin"])
async def test_a_body_of_exactly_64_kib_is_accepted(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, route: str
) -> None:
    """The limit is "over 64 KiB": a body of exactly 65,536 bytes goes through."""
    content = await padded(route, LIMIT)
    created = data(await send(client, desk, route, content), 201)
    email = json.loads(content)["email"]
    assert (created.get("user") or created)["email"] == email
    assert len(await stored(users_db, email)) == 1


async def test_a_duplicate_email_in_another_case_is_409_and_the_first_user_is_intact(
    client: httpx.AsyncClient, users_db: asyncpg.Pool
) -> None:
    """Emails are unique case-insensitively: the second signup is 409 `email_taken` and changes nothing."""
    first = signup_body(email=f"Dup.{new_email()}".replace("example.com", "X.io"))
    created = data(await client.post(f"{USERS}/signup", json=first), 201)["user"]
    second = signup_body(
        email=first["email"].swapcase(), password="another-password-1", first_name="Eve", role="agent"
    )
    before = await snapshot(users_db)
    assert_error(await client.post(f"{USERS}/signup", json=second), 409, "email_taken")
    assert await snapshot(users_db) == before
    rows = await stored(users_db, first["email"])
    assert [(str(r["id"]), r["email"], r["first_name"], r["role"]) for r in rows] == [
        (created["id"], first["email"], "Ann", "customer")
    ]
    assert await login_status(client, second["email"], first["password"]) == 200
    assert await login_status(client, first["email"], second["password"]) == 401


async def test_create_admin_with_a_taken_email_is_409(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """An admin can't be made over an existing user, whatever the case of the email."""
    customer = await signup(client)
    body = {"email": customer.email.upper(), "password": PASSWORD, "first_name": "A", "last_name": "B"}
    before = await snapshot(users_db)
    response = await client.post(f"{USERS}/create-admin", json=body, headers=desk.admin.headers)
    assert_error(response, 409, "email_taken")
    assert await snapshot(users_db) == before
    assert [r["role"] for r in await stored(users_db, customer.email)] == ["customer"]
