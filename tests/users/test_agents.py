"""An admin's hold over agents (approve, reject, delete) and over admins (create-admin)."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from tests.support.people import PASSWORD, Cast, Person, bearer, login, new_email, signup
from tests.support.users import USERS, Desk, assert_error, data, login_status, row_of, snapshot, stored

pytestmark = pytest.mark.anyio


async def decide(client: httpx.AsyncClient, boss: Person, user_id: str, approve: bool) -> httpx.Response:
    return await client.put(
        f"{USERS}/approve-delete/{user_id}", json={"is_approved": approve}, headers=boss.headers
    )


async def delete(client: httpx.AsyncClient, boss: Person, user_id: str) -> httpx.Response:
    return await client.delete(f"{USERS}/approve-delete/{user_id}", headers=boss.headers)


async def login_response(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(f"{USERS}/login", json={"email": email, "password": password})


async def test_approving_a_pending_agent_lets_it_log_in_and_act(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    """Approval turns a pending agent active: it can then log in and use the agent routes."""
    agent = desk.pending
    assert_error(await login_response(client, agent.email), 403, "agent_not_approved")
    user = data(await decide(client, desk.admin, agent.id, True))
    assert (user["id"], user["role"], user["status"]) == (agent.id, "agent", "active")
    token = await login(client, agent.email)
    assert data(await client.get(f"{USERS}/profile", headers=bearer(token)))["status"] == "active"
    assert (await client.get(f"{USERS}/list-agents", headers=bearer(token))).status_code == 200


async def test_a_decision_can_be_reversed_and_reversed_again(client: httpx.AsyncClient, desk: Desk) -> None:
    """active → rejected (login 403 `forbidden`, token refused) → active again (login and token work)."""
    agent = desk.pending
    data(await decide(client, desk.admin, agent.id, True))
    agent.token = await login(client, agent.email)
    assert data(await decide(client, desk.admin, agent.id, False))["status"] == "rejected"
    assert_error(await login_response(client, agent.email), 403, "forbidden")
    assert_error(await client.get(f"{USERS}/profile", headers=agent.headers), 403, "forbidden")
    assert data(await decide(client, desk.admin, agent.id, True))["status"] == "active"
    assert await login_status(client, agent.email) == 200
    assert (await client.get(f"{USERS}/profile", headers=agent.headers)).status_code == 200


async def test_rejecting_a_pending_agent_keeps_it_out(client: httpx.AsyncClient, desk: Desk) -> None:
    """A pending agent can be rejected outright: login then says 403 `forbidden`, not "not approved"."""
    agent = desk.pending
    assert data(await decide(client, desk.admin, agent.id, False))["status"] == "rejected"
    assert_error(await login_response(client, agent.email), 403, "forbidden")


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
async def test_the_same_decision_twice_is_200_and_changes_nothing(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, approve: bool
) -> None:
    """Repeating a decision answers the agent as it is and writes nothing: no new version, no event."""
    agent = desk.pending
    first = data(await decide(client, desk.admin, agent.id, approve))
    row, before = await row_of(users_db, agent.id), await snapshot(users_db)
    again = data(await decide(client, desk.admin, agent.id, approve))
    assert again == first
    assert await snapshot(users_db) == before
    assert (await row_of(users_db, agent.id))["version"] == row["version"]


@pytest.mark.parametrize("target", ["customer", "admin"])
@pytest.mark.parametrize("action", ["approve", "reject", "delete"])
async def test_a_target_that_is_not_an_agent_is_400(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, target: str, action: str
) -> None:
    """Only agents are approved, rejected or deleted: a customer or admin target is 400, left as it was."""
    person = await signup(client) if target == "customer" else desk.admin
    before = await snapshot(users_db)
    if action == "delete":
        response = await delete(client, desk.admin, person.id)
    else:
        response = await decide(client, desk.admin, person.id, action == "approve")
    assert_error(response, 400, "validation_error")
    assert await snapshot(users_db) == before
    assert await login_status(client, person.email) == 200


@pytest.mark.parametrize("action", ["approve", "reject", "delete"])
async def test_an_unknown_agent_is_404(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, action: str
) -> None:
    """A well-formed id that names nobody is 404 `not_found`."""
    nobody = str(uuid.uuid4())
    before = await snapshot(users_db)
    if action == "delete":
        response = await delete(client, desk.admin, nobody)
    else:
        response = await decide(client, desk.admin, nobody, action == "approve")
    assert_error(response, 404, "not_found")
    assert await snapshot(users_db) == before


NOT_UUIDS = ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g", "null", "%20", "{id}0", "{id}"]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("raw", NOT_UUIDS)
async def test_a_path_id_that_is_not_a_uuid_is_404(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, method: str, raw: str
) -> None:
    """Whatever is in the path, if it is not a UUID it names nothing: 404, nothing written."""
    target = desk.pending.id
    path_id = raw.replace("{id}", target[:-1] if raw == "{id}" else target)
    body = {"is_approved": True} if method == "PUT" else None
    before = await snapshot(users_db)
    response = await client.request(
        method, f"{USERS}/approve-delete/{path_id}", json=body, headers=desk.admin.headers
    )
    assert_error(response, 404, "not_found")
    assert await snapshot(users_db) == before


async def test_the_path_names_the_agent_whatever_the_body_says(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """A `user_id` in the body cannot redirect a decision to another agent; an uppercase path id works."""
    target, bystander = desk.pending, await signup(client, "agent")
    path = f"{USERS}/approve-delete/{target.id.upper()}"
    body = {"is_approved": True, "user_id": bystander.id}
    assert data(await client.put(path, json=body, headers=desk.admin.headers))["id"] == target.id
    assert (await row_of(users_db, bystander.id))["status"] == "pending"


@pytest.mark.parametrize("state", ["agent", "pending_agent", "rejected_agent"])
async def test_a_deleted_agent_is_gone_but_kept(
    client: httpx.AsyncClient, people: Cast, users_db: asyncpg.Pool, state: str
) -> None:
    """Deletion: login 401 with the bad-credentials message, token dead, then 404 to every decision."""
    agent: Person = getattr(people, state)
    data(await delete(client, people.admin, agent.id))
    wrong_password = await login_response(client, people.customer.email, "wrong-password")
    deleted_login = await login_response(client, agent.email)
    assert_error(deleted_login, 401, "unauthenticated")
    assert deleted_login.json()["message"] == wrong_password.json()["message"]
    if agent.token:
        assert_error(await client.get(f"{USERS}/profile", headers=agent.headers), 401, "unauthenticated")
    before = await snapshot(users_db)
    assert_error(await delete(client, people.admin, agent.id), 404, "not_found")
    assert_error(await decide(client, people.admin, agent.id, True), 404, "not_found")
    assert_error(await decide(client, people.admin, agent.id, False), 404, "not_found")
    assert await snapshot(users_db) == before
    [row] = await stored(users_db, agent.email)  # soft delete: the record stays
    assert row["deleted_at"] is not None


async def test_an_admin_makes_an_admin_who_can_log_in_and_act(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """create-admin makes an active admin who logs in and acts; the same email again is 409."""
    body = {"email": new_email("admin"), "password": PASSWORD, "first_name": "Grace", "last_name": "Hopper"}
    made = data(await client.post(f"{USERS}/create-admin", json=body, headers=desk.admin.headers), 201)
    assert {k: made[k] for k in ("email", "first_name", "last_name", "role", "status")} == {
        **{k: body[k] for k in ("email", "first_name", "last_name")},
        "role": "admin",
        "status": "active",
    }
    assert "password" not in made
    token = await login(client, body["email"].upper())
    assert (await client.get(f"{USERS}/list-users", headers=bearer(token))).status_code == 200
    assert data(
        await decide(client, Person(made["id"], body["email"], "admin", token), desk.pending.id, True)
    )
    before = await snapshot(users_db)
    again = {**body, "email": body["email"].upper(), "first_name": "Other"}
    assert_error(
        await client.post(f"{USERS}/create-admin", json=again, headers=bearer(token)), 409, "email_taken"
    )
    assert await snapshot(users_db) == before
    assert [r["first_name"] for r in await stored(users_db, body["email"])] == ["Grace"]
