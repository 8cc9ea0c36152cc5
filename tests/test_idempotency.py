"""Writes with an Idempotency-Key: a repeat returns the first answer and changes nothing."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from actors.runtime.sweeper import sweep_idempotency
from tests.support.people import PASSWORD, Cast, new_email

pytestmark = pytest.mark.anyio


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def test_a_repeated_signup_returns_the_first_user_and_makes_no_second(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "email": new_email(),
        "password": PASSWORD,
        "first_name": "I",
        "last_name": "D",
        "role": "customer",
    }
    headers = key()
    first = await client.post("/api/user/signup", json=body, headers=headers)
    again = await client.post("/api/user/signup", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["data"]["user"]["id"] == first.json()["data"]["user"]["id"]
    without = await client.post("/api/user/signup", json=body)
    assert without.status_code == 409  # the user exists: it was made once


async def test_the_same_key_with_another_body_is_409(client: httpx.AsyncClient, people: Cast) -> None:
    headers = {**people.agent.headers, **key()}
    url = "/api/loan/customer-loan"
    first = await client.post(
        url, json={"customer_id": people.customer.id, "principal": 20000, "months": 6}, headers=headers
    )
    other = await client.post(
        url, json={"customer_id": people.customer.id, "principal": 30000, "months": 6}, headers=headers
    )
    assert first.status_code == 201
    assert (other.status_code, other.json()["error"]["code"]) == (409, "conflict")


async def test_concurrent_repeats_of_a_loan_request_make_one_loan(
    client: httpx.AsyncClient, people: Cast, settings: Settings
) -> None:
    """Ten at once with one key (a client retrying a lost reply): one loan, ten identical answers."""
    headers = {**people.agent.headers, **key()}
    body = {"customer_id": people.customer.id, "principal": "45000.50", "months": 24}
    answers = await asyncio.gather(
        *(client.post("/api/loan/customer-loan", json=body, headers=headers) for _ in range(10))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["data"]["id"] for a in answers}) == 1
    con = await asyncpg.connect(role_dsn(settings, "loans"))
    try:
        made = await con.fetchval(
            "SELECT count(*) FROM loans.loans WHERE customer_id = $1", uuid.UUID(people.customer.id)
        )
    finally:
        await con.close()
    # The events, as their consumer saw them (the outbox keeps only what is not sent yet).
    events = await _created_events(settings, uuid.UUID(answers[0].json()["data"]["id"]))
    assert (made, events) == (1, 1)


async def _created_events(settings: Settings, loan_id: uuid.UUID) -> int:
    """How many `loans.loan.created` events of this loan the users actor applied, once the first
    has arrived and a moment more has passed for any other."""
    con = await asyncpg.connect(role_dsn(settings, "users"))
    query = "SELECT count(DISTINCT event_id) FROM users.activity WHERE loan_id = $1 AND type = 'loan.created'"
    try:
        for _ in range(100):
            if await con.fetchval(query, loan_id):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        found: int = await con.fetchval(query, loan_id)
        return found
    finally:
        await con.close()


async def test_a_repeated_decision_returns_the_first_answer_not_409(
    client: httpx.AsyncClient, people: Cast
) -> None:
    created = await client.post(
        "/api/loan/customer-loan",
        json={"customer_id": people.customer.id, "principal": 20000, "months": 6},
        headers=people.agent.headers,
    )
    url = f"/api/loan/approve-reject-loan/{created.json()['data']['id']}"
    headers = {**people.admin.headers, **key()}
    first = await client.put(url, json={"status": "APPROVED"}, headers=headers)
    again = await client.put(url, json={"status": "APPROVED"}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    fresh = await client.put(url, json={"status": "APPROVED"}, headers={**people.admin.headers, **key()})
    assert fresh.status_code == 409


async def test_keys_are_per_caller(client: httpx.AsyncClient, people: Cast) -> None:
    """Another agent using the same key string gets their own loan, not someone else's answer."""
    shared = key()
    body = {"customer_id": people.customer.id, "principal": 20000, "months": 6}
    mine = await client.post("/api/loan/customer-loan", json=body, headers={**people.agent.headers, **shared})
    theirs = await client.post(
        "/api/loan/customer-loan", json=body, headers={**people.other_agent.headers, **shared}
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["data"]["id"] != theirs.json()["data"]["id"]


async def test_a_malformed_key_is_400_and_writes_nothing(client: httpx.AsyncClient, people: Cast) -> None:
    body = {
        "email": new_email(),
        "password": PASSWORD,
        "first_name": "I",
        "last_name": "D",
        "role": "customer",
    }
    for bad in ("x" * 129, "has space"):
        answer = await client.post("/api/user/signup", json=body, headers={"Idempotency-Key": bad})
        assert answer.status_code == 400
    login = await client.post("/api/user/login", json={"email": body["email"], "password": PASSWORD})
    assert login.status_code == 401


async def test_the_sweep_deletes_expired_answers_and_keeps_live_ones(
    client: httpx.AsyncClient, people: Cast, settings: Settings
) -> None:
    """A key whose answer has expired is deleted by a worker's sweep; a fresh one stays and still
    replays. Other tests' rows share the table, so the check is on this test's own keys."""
    url, body = (
        "/api/loan/customer-loan",
        {"customer_id": people.customer.id, "principal": 21000, "months": 6},
    )
    old, live = key(), key()
    first = await client.post(url, json=body, headers={**people.agent.headers, **old})
    second = await client.post(url, json=body, headers={**people.agent.headers, **live})
    pool = await asyncpg.create_pool(role_dsn(settings, "loans"), min_size=1, max_size=2)
    assert pool is not None
    try:
        await pool.execute(
            "UPDATE loans.idempotency SET expires_at = now() - interval '1 second' WHERE key = $1",
            old["Idempotency-Key"],
        )
        deleted = await sweep_idempotency(pool, "loans")
        left = await pool.fetch(
            "SELECT key FROM loans.idempotency WHERE key = ANY($1::text[])",
            [old["Idempotency-Key"], live["Idempotency-Key"]],
        )
    finally:
        await pool.close()
    assert deleted >= 1
    assert [r["key"] for r in left] == [live["Idempotency-Key"]]
    replay = await client.post(url, json=body, headers={**people.agent.headers, **live})
    assert replay.status_code == 201 and replay.json()["data"]["id"] == second.json()["data"]["id"]
    assert first.json()["data"]["id"] != second.json()["data"]["id"]


async def test_a_repeated_edit_of_a_loan_approved_since_returns_the_first_answer_not_409(
    client: httpx.AsyncClient, people: Cast
) -> None:
    """The repeat runs into a rule (an approved loan is frozen): the stored answer wins, since the
    client is asking again for what it was answered already."""
    created = await client.post(
        "/api/loan/customer-loan",
        json={"customer_id": people.customer.id, "principal": 20000, "months": 6},
        headers=people.agent.headers,
    )
    loan_id = created.json()["data"]["id"]
    headers = {**people.agent.headers, **key()}
    first = await client.put(f"/api/loan/edit-loan/{loan_id}", json={"months": 9}, headers=headers)
    decided = await client.put(
        f"/api/loan/approve-reject-loan/{loan_id}", json={"status": "APPROVED"}, headers=people.admin.headers
    )
    again = await client.put(f"/api/loan/edit-loan/{loan_id}", json={"months": 9}, headers=headers)
    fresh = await client.put(
        f"/api/loan/edit-loan/{loan_id}", json={"months": 9}, headers={**people.agent.headers, **key()}
    )
    assert (first.status_code, decided.status_code, again.status_code) == (200, 200, 200)
    assert again.json() == first.json()
    assert (fresh.status_code, fresh.json()["error"]["code"]) == (409, "loan_not_editable")
    history = await client.get(f"/api/loan/{loan_id}/history", headers=people.admin.headers)
    assert [h["change"] for h in history.json()["data"]].count("edited") == 1


async def test_concurrent_repeats_of_a_signup_make_one_user(client: httpx.AsyncClient) -> None:
    """Five at once with one key: each but the first finds the email taken by its own first
    attempt, and answers as that one did, not 409."""
    body = {
        "email": new_email(),
        "password": PASSWORD,
        "first_name": "I",
        "last_name": "D",
        "role": "customer",
    }
    headers = key()
    answers = await asyncio.gather(
        *(client.post("/api/user/signup", json=body, headers=headers) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.json()["data"]["user"]["id"] for a in answers}) == 1


async def test_a_repeated_admin_creation_returns_the_first_admin(
    client: httpx.AsyncClient, people: Cast
) -> None:
    body = {"email": new_email(), "password": PASSWORD, "first_name": "A", "last_name": "D"}
    headers = {**people.admin.headers, **key()}
    first = await client.post("/api/user/create-admin", json=body, headers=headers)
    again = await client.post("/api/user/create-admin", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["data"] == first.json()["data"]


async def test_a_refused_keyed_write_stores_no_answer(
    client: httpx.AsyncClient, people: Cast, settings: Settings
) -> None:
    """The answer is stored with the write or not at all: a refusal leaves the key unused, so the
    same key with a request that can succeed writes."""
    headers = {**people.agent.headers, **key()}
    refused = await client.post(
        "/api/loan/customer-loan",
        json={"customer_id": str(uuid.uuid4()), "principal": 20000, "months": 6},
        headers=headers,
    )
    con = await asyncpg.connect(role_dsn(settings, "loans"))
    try:
        stored = await con.fetchval(
            "SELECT count(*) FROM loans.idempotency WHERE key = $1", headers["Idempotency-Key"]
        )
    finally:
        await con.close()
    assert (refused.status_code, stored) == (400, 0)
