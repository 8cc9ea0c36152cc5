"""Agents' lending limits on the users side: set at approval or on their own route, shown on the
user object, refused when malformed or aimed at anyone but a live agent, and only an admin's."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.limits import approve, limit_path, set_limit
from tests.support.people import Cast, Person, login, signup
from tests.support.users import USERS, Desk, assert_error, data, row_of, snapshot

pytestmark = pytest.mark.anyio


async def _stored_limit(db: asyncpg.Pool, user_id: str) -> Any:
    return await db.fetchval("SELECT lending_limit FROM users WHERE id = $1", uuid.UUID(user_id))


async def _listed(client: httpx.AsyncClient, boss: Person, user_id: str) -> dict[str, Any]:
    """The user as the admin's list of agents shows them."""
    response = await client.get(
        f"{USERS}/list-users", params={"role": "agent", "page_size": 100}, headers=boss.headers
    )
    return next(u for u in data(response) if u["id"] == user_id)


async def test_an_approval_sets_the_limit_and_every_user_object_shows_it(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """Approved with "50000" the agent's objects say "50000.00" (approval reply, profile, list);
    a customer's and an admin's say null."""
    agent = desk.pending
    user = data(await approve(client, desk.admin, agent.id, lending_limit="50000"))
    assert (user["status"], user["lending_limit"]) == ("active", "50000.00")
    assert str(await _stored_limit(users_db, agent.id)) == "50000.00"
    agent.token = await login(client, agent.email)
    assert data(await client.get(f"{USERS}/profile", headers=agent.headers))["lending_limit"] == "50000.00"
    assert (await _listed(client, desk.admin, agent.id))["lending_limit"] == "50000.00"
    assert data(await client.get(f"{USERS}/profile", headers=desk.admin.headers))["lending_limit"] is None
    customer = await signup(client, "customer")
    assert data(await client.get(f"{USERS}/profile", headers=customer.headers))["lending_limit"] is None


async def test_an_approval_without_a_limit_leaves_none(client: httpx.AsyncClient, desk: Desk) -> None:
    """The body of old clients ({"is_approved": true}) approves with no limit: lending_limit null."""
    assert data(await approve(client, desk.admin, desk.pending.id))["lending_limit"] is None


async def test_the_limit_route_raises_lowers_and_removes_it(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """Each change is stored as sent (a JSON number too, never rounded) and bumps the version once."""
    agent, boss = desk.pending, desk.admin
    data(await approve(client, boss, agent.id, lending_limit="20000.00"))
    for sent, shown in [("30000.50", "30000.50"), (15000, "15000.00"), ("12345.6", "12345.60"), (None, None)]:
        version = (await row_of(users_db, agent.id))["version"]
        user = data(await set_limit(client, boss, agent.id, sent))
        assert (user["id"], user["role"], user["lending_limit"]) == (agent.id, "agent", shown)
        stored = await _stored_limit(users_db, agent.id)
        assert (None if stored is None else str(stored)) == shown
        assert (await row_of(users_db, agent.id))["version"] == version + 1


async def test_the_same_limit_again_is_200_and_writes_nothing(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """Setting the limit the agent already has (written differently, too) answers them and changes nothing."""
    agent, boss = desk.pending, desk.admin
    first = data(await approve(client, boss, agent.id, lending_limit="40000.00"))
    before = await snapshot(users_db)
    assert data(await set_limit(client, boss, agent.id, "40000")) == first
    assert data(await approve(client, boss, agent.id, lending_limit="40000.0")) == first
    assert await snapshot(users_db) == before


async def test_an_approval_changes_keeps_or_removes_the_limit(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """Re-approving an active agent with another limit changes it; a rejection and a re-approval
    without one keep it; an approval with null removes it."""
    agent, boss = desk.pending, desk.admin
    data(await approve(client, boss, agent.id, lending_limit="10000.00"))
    version = (await row_of(users_db, agent.id))["version"]
    assert (
        data(await approve(client, boss, agent.id, lending_limit="25000.00"))["lending_limit"] == "25000.00"
    )
    assert (await row_of(users_db, agent.id))["version"] == version + 1
    rejected = data(
        await client.put(
            f"{USERS}/approve-delete/{agent.id}", json={"is_approved": False}, headers=boss.headers
        )
    )
    assert (rejected["status"], rejected["lending_limit"]) == ("rejected", "25000.00")
    assert data(await approve(client, boss, agent.id))["lending_limit"] == "25000.00"
    assert data(await approve(client, boss, agent.id, lending_limit=None))["lending_limit"] is None
    assert await _stored_limit(users_db, agent.id) is None


async def test_a_rejection_carrying_a_limit_is_400(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """lending_limit goes with is_approved true only: a rejection with one is refused, nothing written."""
    before = await snapshot(users_db)
    body = {"is_approved": False, "lending_limit": "50000.00"}
    response = await client.put(
        f"{USERS}/approve-delete/{desk.pending.id}", json=body, headers=desk.admin.headers
    )
    assert_error(response, 400, "validation_error", field="lending_limit")
    assert await snapshot(users_db) == before


BAD_LIMITS = [
    pytest.param("0", id="zero"),
    pytest.param("0.00", id="zero-cents"),
    pytest.param(0, id="zero-number"),
    pytest.param("-100.00", id="negative"),
    pytest.param("-0", id="minus-zero"),
    pytest.param("100.001", id="three-decimals"),
    pytest.param(50000.125, id="three-decimals-number"),
    pytest.param("NaN", id="nan"),
    pytest.param("Infinity", id="infinity"),
    pytest.param("1e12", id="too-large"),
    pytest.param("abc", id="not-a-number"),
    pytest.param("", id="empty"),
    pytest.param(True, id="boolean"),
    pytest.param([1], id="list"),
]


@pytest.mark.parametrize("limit", BAD_LIMITS)
async def test_a_malformed_limit_is_400_on_both_routes_and_writes_nothing(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool, limit: Any
) -> None:
    """Not more than 0, over two decimals, not finite, too large for the column or not a number:
    400 naming lending_limit, on the limit route and in the approval body alike."""
    before = await snapshot(users_db)
    assert_error(
        await set_limit(client, desk.admin, desk.pending.id, limit), 400, "validation_error", "lending_limit"
    )
    assert_error(
        await approve(client, desk.admin, desk.pending.id, lending_limit=limit),
        400,
        "validation_error",
        "lending_limit",
    )
    assert await snapshot(users_db) == before


async def test_a_body_without_the_limit_is_400(client: httpx.AsyncClient, desk: Desk) -> None:
    """The limit route needs lending_limit said outright (null for none): an empty object is refused."""
    response = await client.put(limit_path(desk.pending.id), json={}, headers=desk.admin.headers)
    assert_error(response, 400, "validation_error", field="lending_limit")


@pytest.mark.parametrize("target", ["customer", "admin"])
async def test_a_target_that_is_not_an_agent_is_400(
    client: httpx.AsyncClient, people: Cast, users_db: asyncpg.Pool, target: str
) -> None:
    """Only agents carry a limit: a customer or an admin as target is 400, nothing written."""
    user_id = people.customer.id if target == "customer" else people.admin.id
    before = await snapshot(users_db)
    assert_error(
        await set_limit(client, people.admin, user_id, "50000.00"), 400, "validation_error", "user_id"
    )
    assert await snapshot(users_db) == before
    assert await _stored_limit(users_db, user_id) is None


async def test_an_unknown_or_deleted_agent_is_404(client: httpx.AsyncClient, people: Cast) -> None:
    """No such user, a deleted agent, or a path id that is not a UUID: 404."""
    for user_id in (str(uuid.uuid4()), people.deleted_agent.id, "not-a-uuid"):
        assert_error(await set_limit(client, people.admin, user_id, "50000.00"), 404, "not_found")


# Who may set a limit (api.md: admin only); callers as in tests/users/test_roles.py.
CALLERS = [
    pytest.param("anonymous", 401, "unauthenticated", id="anonymous"),
    pytest.param("customer", 403, "forbidden", id="customer"),
    pytest.param("pending_agent", 401, "unauthenticated", id="pending-agent"),  # no token yet
    pytest.param("agent", 403, "forbidden", id="agent"),
    pytest.param("rejected_agent", 403, "forbidden", id="rejected-agent"),
    pytest.param("deleted_agent", 401, "unauthenticated", id="deleted-agent"),
    pytest.param("admin", 200, None, id="admin"),
]


@pytest.mark.parametrize(("who", "status", "code"), CALLERS)
async def test_only_an_admin_may_set_a_limit(
    client: httpx.AsyncClient, people: Cast, users_db: asyncpg.Pool, who: str, status: int, code: str | None
) -> None:
    """Each caller gets api.md's status (an agent cannot raise its own limit); a refusal writes nothing."""
    caller = None if who == "anonymous" else getattr(people, who)
    target = people.agent
    before = await snapshot(users_db)
    response = await set_limit(client, caller, target.id, "60000.00")
    if code is None:
        assert data(response)["lending_limit"] == "60000.00"
    else:
        assert_error(response, status, code)
        assert await snapshot(users_db) == before


async def test_an_agent_cannot_set_its_own_limit(client: httpx.AsyncClient, people: Cast) -> None:
    """An approved agent raising its own limit is refused like any other non-admin."""
    assert_error(await set_limit(client, people.agent, people.agent.id, "99999999.00"), 403, "forbidden")


async def test_a_repeat_under_its_idempotency_key_is_answered_as_first_and_changes_nothing(
    client: httpx.AsyncClient, desk: Desk, users_db: asyncpg.Pool
) -> None:
    """The same key and body: the first answer again, one write; the key with another body: 409."""
    agent, boss = desk.pending, desk.admin
    data(await approve(client, boss, agent.id))
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = data(await set_limit(client, boss, agent.id, "30000.00", **key))
    data(await set_limit(client, boss, agent.id, "31000.00"))  # changed since, without the key
    before = await snapshot(users_db)
    assert data(await set_limit(client, boss, agent.id, "30000.00", **key)) == first
    assert await snapshot(users_db) == before
    assert_error(await set_limit(client, boss, agent.id, "32000.00", **key), 409, "conflict")
    assert str(await _stored_limit(users_db, agent.id)) == "31000.00"
