"""A cast of users in every role, made through the edge (the admin by the bootstrap path)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import httpx

from actors.contracts.config import Settings
from actors.contracts.users import CreateAdmin
from actors.runtime.db import role_dsn
from actors.users.bootstrap import create_admin
from tests.support.polling import eventually

PASSWORD = "correct-horse-9"


def new_email(tag: str = "u") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class Person:
    id: str
    email: str
    role: str
    token: str | None

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


async def signup(client: httpx.AsyncClient, role: str = "customer", **fields: str) -> Person:
    body = {
        "email": new_email(role),
        "password": PASSWORD,
        "first_name": "Ann",
        "last_name": "Lee",
        "role": role,
    }
    body.update(fields)
    response = await client.post("/api/user/signup", json=body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return Person(data["user"]["id"], data["user"]["email"], role, data["access_token"])


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/user/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["access_token"]
    return token


async def admin(client: httpx.AsyncClient, settings: Settings) -> Person:
    email = new_email("admin")
    user = await create_admin(
        settings, CreateAdmin(email=email, password=PASSWORD, first_name="Ada", last_name="Min")
    )
    return Person(str(user.id), email, "admin", await login(client, email))


async def agent(client: httpx.AsyncClient, boss: Person, decision: str = "approved") -> Person:
    """An agent in the state named: pending, approved, rejected or deleted (tokens from approval)."""
    person = await signup(client, "agent")
    if decision == "pending":
        return person
    path = f"/api/user/approve-delete/{person.id}"
    response = await client.put(path, json={"is_approved": True}, headers=boss.headers)
    assert response.status_code == 200, response.text
    person.token = await login(client, person.email)
    if decision == "rejected":
        response = await client.put(path, json={"is_approved": False}, headers=boss.headers)
        assert response.status_code == 200, response.text
    elif decision == "deleted":
        response = await client.delete(path, headers=boss.headers)
        assert response.status_code == 200, response.text
    return person


@dataclass
class Cast:
    admin: Person
    customer: Person
    other_customer: Person
    pending_agent: Person
    agent: Person
    other_agent: Person
    rejected_agent: Person
    deleted_agent: Person


async def cast(client: httpx.AsyncClient, settings: Settings) -> Cast:
    boss = await admin(client, settings)
    crew = Cast(
        admin=boss,
        customer=await signup(client, "customer"),
        other_customer=await signup(client, "customer"),
        pending_agent=await agent(client, boss, "pending"),
        agent=await agent(client, boss, "approved"),
        other_agent=await agent(client, boss, "approved"),
        rejected_agent=await agent(client, boss, "rejected"),
        deleted_agent=await agent(client, boss, "deleted"),
    )
    await _revocations_landed(settings, crew)
    return crew


# The read models that hold who an agent is: the loans actor's and the servicing actor's.
_AGENT_READ_MODELS = (("loans", "loans.parties"), ("servicing", "servicing.agents"))


async def _revocations_landed(settings: Settings, crew: Cast, within: float = 10.0) -> None:
    """Wait until both actors' read models have the rejection and the deletion: a revoked agent's
    token stops working for loan and servicing actions when the event lands (tests/events measure
    how soon); the tests that use a cast are about who may do what once it has. Without the wait,
    an action tried within milliseconds of the deletion raced the event (seen in CI)."""
    for role, table in _AGENT_READ_MODELS:
        await _revocations_in(settings, role, table, crew, within)


async def _revocations_in(settings: Settings, role: str, table: str, crew: Cast, within: float) -> None:
    con = await asyncpg.connect(role_dsn(settings, role))
    try:

        async def landed() -> bool:
            rows = await con.fetch(
                f"SELECT id, status, deleted FROM {table} WHERE id = ANY($1::uuid[])",
                [uuid.UUID(crew.rejected_agent.id), uuid.UUID(crew.deleted_agent.id)],
            )
            state = {str(r["id"]): (r["status"], r["deleted"]) for r in rows}
            rejected = state.get(crew.rejected_agent.id, ("", False))[0] == "rejected"
            deleted = state.get(crew.deleted_agent.id, ("", False))[1]
            assert rejected and deleted, state
            return True

        what = f"the read model {table} did not catch up"
        await eventually(landed, timeout=within, interval=0.02, what=what)
    finally:
        await con.close()
