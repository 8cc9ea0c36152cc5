"""Text fields: lengths as api.md counts them, unicode and SQL metacharacters kept exactly as sent."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from actors.contracts.config import Settings
from tests.support.people import admin
from tests.support.users import (
    USERS,
    assert_error,
    data,
    data_page,
    login_status,
    signup_body,
    snapshot,
    stored,
)

pytestmark = pytest.mark.anyio


async def signup_refused(
    client: httpx.AsyncClient, users_db: asyncpg.Pool, body: dict[str, str], field: str
) -> None:
    """The signup is 400 naming `field` and writes nothing: no row has its email."""
    before = await snapshot(users_db)
    response = await client.post(f"{USERS}/signup", json=body)
    assert_error(response, 400, "validation_error", field)
    assert await snapshot(users_db) == before
    assert await stored(users_db, body["email"]) == []


PASSWORDS = {
    "7 bytes": ("a" * 7, False),
    "8 bytes": ("a" * 8, True),
    "72 bytes": ("a" * 72, True),
    "73 bytes": ("a" * 73, False),
    "empty": ("", False),
    "3 euro signs: 9 bytes, 3 characters": ("€" * 3, True),
    "19 euro signs: 57 bytes": ("€" * 19, True),
    "24 euro signs: 72 bytes": ("€" * 24, True),
    "24 euro signs and a: 73 bytes, 25 characters": ("€" * 24 + "a", False),
    "25 euro signs: 75 bytes": ("€" * 25, False),
    "18 emoji: 72 bytes": ("🦊" * 18, True),
    "19 emoji: 76 bytes, 19 characters": ("🦊" * 19, False),
}


@pytest.mark.parametrize(("password", "ok"), PASSWORDS.values(), ids=PASSWORDS.keys())
async def test_password_length_is_8_to_72_bytes(
    client: httpx.AsyncClient, users_db: asyncpg.Pool, password: str, ok: bool
) -> None:
    """A password is measured in UTF-8 bytes: within 8..72 it signs up and logs in, else 400."""
    body = signup_body(password=password)
    if not ok:
        await signup_refused(client, users_db, body, "password")
        return
    data(await client.post(f"{USERS}/signup", json=body), 201)
    assert await login_status(client, body["email"], password) == 200


@pytest.mark.parametrize("extra", ["a", "€", "a" * 100], ids=["+1 byte", "+3 bytes", "+100 bytes"])
async def test_login_with_a_72_byte_password_plus_more_is_401(client: httpx.AsyncClient, extra: str) -> None:
    """bcrypt reads 72 bytes; a longer password that starts with the right 72 must still be wrong."""
    body = signup_body(password="p" * 72)
    data(await client.post(f"{USERS}/signup", json=body), 201)
    assert await login_status(client, body["email"], body["password"] + extra) == 401
    assert await login_status(client, body["email"], body["password"]) == 200


NAMES = {
    "100 characters": ("n" * 100, True),
    "101 characters": ("n" * 101, False),
    "100 euro signs (300 bytes)": ("€" * 100, True),
    "100 emoji": ("🦊" * 100, True),
    "101 emoji": ("🦊" * 101, False),
    "one character": ("n", True),
    "empty": ("", False),
    "blank": ("   ", False),
    "tabs and newlines": ("\t\n ", False),
}


@pytest.mark.parametrize("field", ["first_name", "last_name"])
@pytest.mark.parametrize(("name", "ok"), NAMES.values(), ids=NAMES.keys())
async def test_a_name_is_1_to_100_characters(
    client: httpx.AsyncClient, users_db: asyncpg.Pool, field: str, name: str, ok: bool
) -> None:
    """A name of 1..100 characters (not bytes) is kept as sent; longer, empty or blank is 400."""
    body = signup_body(**{field: name})
    if not ok:
        await signup_refused(client, users_db, body, field)
        return
    user = data(await client.post(f"{USERS}/signup", json=body), 201)["user"]
    assert user[field] == name
    assert [row[field] for row in await stored(users_db, body["email"])] == [name]


EMAILS = {
    "255 characters": "e" * 243 + "@example.com",
    "no at sign": "not-an-email",
    "no domain dot": "a@example",
    "nothing before @": "@example.com",
    "space inside": "a b@example.com",
    "two at signs": "a@b@example.com",
    "empty": "",
}


@pytest.mark.parametrize("email", EMAILS.values(), ids=EMAILS.keys())
async def test_an_invalid_or_too_long_email_is_400(
    client: httpx.AsyncClient, users_db: asyncpg.Pool, email: str
) -> None:
    """Only a valid address of at most 254 characters signs up."""
    await signup_refused(client, users_db, signup_body(email=email), "email")


UNICODE = [
    ("Zoë", "Ñúñez-Ångström"),
    ("🦊", "👩‍👩‍👧‍👦 🏳️‍🌈"),  # ZWJ sequences and a flag: several code points each
    ("山田", "太郎"),
    ("שָׁלוֹם", "עליכם"),  # Hebrew with vowel points, right to left
    ("مُحَمَّد", "العربي"),  # Arabic, right to left
    ("e\u0301", "A\u030a"),  # decomposed: must not come back normalized
    ("\u202eevil", "x\u200by"),  # a bidi override and a zero-width space, kept as data
]


@pytest.mark.parametrize(
    ("first", "last"), UNICODE, ids=["latin", "emoji", "cjk", "hebrew", "arabic", "decomposed", "invisible"]
)
async def test_unicode_names_round_trip_exactly(
    client: httpx.AsyncClient, settings: Settings, first: str, last: str
) -> None:
    """Names come back code point for code point: in the signup reply, the profile and a list."""
    tag = uuid.uuid4().hex[:10]
    body = signup_body(first_name=first, last_name=f"{last} {tag}")
    user = data(await client.post(f"{USERS}/signup", json=body), 201)["user"]
    assert (user["first_name"], user["last_name"]) == (first, f"{last} {tag}")
    token = data(await client.post(f"{USERS}/login", json=body))["access_token"]
    profile = data(await client.get(f"{USERS}/profile", headers={"Authorization": f"Bearer {token}"}))
    assert (profile["first_name"], profile["last_name"]) == (first, f"{last} {tag}")
    boss = await admin(client, settings)
    found = await client.get(f"{USERS}/list-agents", params={"q": tag}, headers=boss.headers)
    assert [(u["id"], u["first_name"], u["last_name"]) for u in data(found)] == [
        (user["id"], first, f"{last} {tag}")
    ]


@pytest.mark.parametrize(
    ("stored_as", "searched_as"),
    [("Ångström", "åNGSTRÖM"), ("Ñúñez", "ñÚÑEZ"), ("Дмитрий", "дМИТРИЙ")],
    ids=["swedish", "spanish", "russian"],
)
async def test_q_matches_names_case_insensitively_beyond_ascii(
    client: httpx.AsyncClient, settings: Settings, stored_as: str, searched_as: str
) -> None:
    """`q` ignores case in any script, not only A-Z."""
    tag = uuid.uuid4().hex[:10]
    body = signup_body(first_name=stored_as, last_name=tag)
    user = data(await client.post(f"{USERS}/signup", json=body), 201)["user"]
    boss = await admin(client, settings)
    found = await client.get(
        f"{USERS}/list-agents", params={"q": f"{searched_as} {tag}"}, headers=boss.headers
    )
    assert [u["id"] for u in data(found)] == [user["id"]]


META = ["'", '"', ";", "--", "%", "_", "\\", "' OR 1=1 --", "Robert'); DROP TABLE users;--"]


@pytest.mark.parametrize("meta", META)
async def test_sql_metacharacters_are_stored_and_returned_verbatim(
    client: httpx.AsyncClient, settings: Settings, users_db: asyncpg.Pool, meta: str
) -> None:
    """SQL metacharacters in email, names, password and search are plain text end to end."""
    hex_ = uuid.uuid4().hex[:10]
    body = signup_body(
        email=f"{meta.replace(' ', '')}{hex_}@example.com",  # spaces are not allowed in an address
        password=f"pw{meta}{hex_}",
        first_name=meta,
        last_name=f"{meta}{hex_}{meta}",
    )
    user = data(await client.post(f"{USERS}/signup", json=body), 201)["user"]
    sent = (body["email"], body["first_name"], body["last_name"])
    assert (user["email"], user["first_name"], user["last_name"]) == sent
    [row] = await stored(users_db, body["email"])
    assert (row["email"], row["first_name"], row["last_name"]) == sent
    token = data(await client.post(f"{USERS}/login", json={**body, "email": body["email"].upper()}))
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert data(await client.get(f"{USERS}/profile", headers=headers))["last_name"] == body["last_name"]
    assert await login_status(client, meta, body["password"]) == 401  # an email that is SQL logs nobody in
    boss = await admin(client, settings)
    for q in (meta, f"{meta}{hex_}{meta}"):
        found = data(
            await client.get(f"{USERS}/list-agents", params={"q": q, "page_size": 100}, headers=boss.headers)
        )
        assert user["id"] in [u["id"] for u in found], q
        for u in found:  # a literal match, never a pattern
            assert q.strip().lower() in f"{u['email']}\n{u['first_name']} {u['last_name']}".lower(), (q, u)


async def test_like_wildcards_in_q_match_only_themselves(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """`q="%"`, `"_"` and `"\\"` match those characters, not every name."""
    tag = uuid.uuid4().hex[:10]
    made: dict[str, str] = {}
    for suffix in ("%x", "_x", "\\x", "ab", "Zx"):
        body = signup_body(last_name=f"{tag}{suffix}")
        made[suffix] = data(await client.post(f"{USERS}/signup", json=body), 201)["user"]["id"]
    boss = await admin(client, settings)

    async def search(q: str) -> list[str]:
        response = await client.get(
            f"{USERS}/list-agents", params={"q": q, "page_size": 100}, headers=boss.headers
        )
        return [u["id"] for u in data(response)]

    assert await search(f"{tag}%") == [made["%x"]]
    assert await search(f"{tag}_") == [made["_x"]]
    assert await search(f"{tag}\\") == [made["\\x"]]
    assert sorted(await search(tag)) == sorted(made.values())
    assert await search(f"{tag}z") == [made["Zx"]]  # and case does not matter
    total = data_page(await client.get(f"{USERS}/list-agents", headers=boss.headers))["count"]
    for wildcard in ("%", "_", "\\"):
        params = {"q": wildcard, "page_size": 100}
        page = data_page(await client.get(f"{USERS}/list-agents", params=params, headers=boss.headers))
        assert 1 <= page["count"] < total, wildcard
        assert all(wildcard in f"{u['email']} {u['first_name']} {u['last_name']}" for u in page["data"])


async def test_q_longer_than_100_characters_is_400(client: httpx.AsyncClient, settings: Settings) -> None:
    """The search text is bounded like a name."""
    boss = await admin(client, settings)
    response = await client.get(f"{USERS}/list-agents", params={"q": "q" * 101}, headers=boss.headers)
    assert_error(response, 400, "validation_error", "q")
