"""The three user lists: paging and its validation, filters, order, and who may appear in each."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from actors.contracts.config import Settings
from tests.support.people import PASSWORD, Person, admin, login, signup
from tests.support.users import USERS, assert_error, data, data_page

pytestmark = pytest.mark.anyio

LISTS = ("list-agents", "list-users", "list-approvals")


async def make(client: httpx.AsyncClient, boss: Person, state: str, **fields: str) -> Person:
    """A customer (state "customer") or an agent left pending, active, rejected or deleted."""
    person = await signup(client, "customer" if state == "customer" else "agent", **fields)
    path = f"{USERS}/approve-delete/{person.id}"
    if state in ("active", "rejected"):
        body = {"is_approved": state == "active"}
        assert (await client.put(path, json=body, headers=boss.headers)).status_code == 200
    elif state == "deleted":
        assert (await client.delete(path, headers=boss.headers)).status_code == 200
    return person


async def listed(client: httpx.AsyncClient, boss: Person, route: str, **params: Any) -> list[dict[str, Any]]:
    """The first 100 rows: enough for newest-first lists to show what this test just made."""
    response = await client.get(f"{USERS}/{route}", params={**params, "page_size": 100}, headers=boss.headers)
    rows: list[dict[str, Any]] = data(response)
    return rows


async def ids(client: httpx.AsyncClient, boss: Person, route: str, **params: Any) -> list[str]:
    return [u["id"] for u in await listed(client, boss, route, **params)]


async def every_row(client: httpx.AsyncClient, boss: Person, route: str) -> list[dict[str, Any]]:
    """All rows of an oldest-first list, page after page."""
    rows: list[dict[str, Any]] = []
    for page in range(1, 10_000):
        params = {"page": page, "page_size": 100}
        body = data_page(await client.get(f"{USERS}/{route}", params=params, headers=boss.headers))
        rows += body["data"]
        if len(body["data"]) < 100:
            assert body["count"] == len(rows)
            return rows
    raise AssertionError("the list never ended")


async def test_pages_split_the_matching_rows_and_count_is_the_total(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Pages of 2 walk 5 matches newest first; `count` is 5 on every page, including past the end."""
    tag = uuid.uuid4().hex[:10]
    made = [(await signup(client, last_name=f"Pager{tag}")).id for _ in range(5)]
    boss = await admin(client, settings)
    seen = []
    for page, size in ((1, 2), (2, 2), (3, 1), (4, 0)):
        params = {"q": tag, "page": page, "page_size": 2}
        body = data_page(await client.get(f"{USERS}/list-agents", params=params, headers=boss.headers))
        assert (body["count"], body["page"], body["page_size"], len(body["data"])) == (5, page, 2, size)
        seen += [u["id"] for u in body["data"]]
    assert seen == made[::-1]


@pytest.mark.parametrize("route", LISTS)
async def test_paging_defaults_to_page_1_of_20(
    client: httpx.AsyncClient, settings: Settings, route: str
) -> None:
    """Without paging parameters a list is page 1 of size 20; 1 and 100 are valid sizes."""
    boss = await admin(client, settings)
    body = data_page(await client.get(f"{USERS}/{route}", headers=boss.headers))
    assert (body["page"], body["page_size"]) == (1, 20) and len(body["data"]) <= 20
    for size in (1, 100):
        params = {"page_size": size}
        body = data_page(await client.get(f"{USERS}/{route}", params=params, headers=boss.headers))
        assert body["page_size"] == size and len(body["data"]) <= size


BAD_PAGING = [
    ("page", "0"),
    ("page", "-1"),
    ("page", "abc"),
    ("page", "1.5"),
    ("page", ""),
    ("page", "1.0"),
    ("page_size", "0"),
    ("page_size", "101"),
    ("page_size", "-5"),
    ("page_size", "abc"),
    ("page_size", "2e1"),
]


@pytest.mark.parametrize("route", LISTS)
@pytest.mark.parametrize(("param", "value"), BAD_PAGING)
async def test_paging_out_of_range_or_not_an_integer_is_400(
    client: httpx.AsyncClient, settings: Settings, route: str, param: str, value: str
) -> None:
    """Paging is never clamped: a bad `page` or `page_size` is 400 naming it."""
    boss = await admin(client, settings)
    response = await client.get(f"{USERS}/{route}", params={param: value}, headers=boss.headers)
    assert_error(response, 400, "validation_error", param)


async def test_unknown_query_parameters_are_ignored(client: httpx.AsyncClient, settings: Settings) -> None:
    """Parameters a list does not know change nothing (a `status` on the approvals list included)."""
    boss = await admin(client, settings)
    await make(client, boss, "pending")  # so that no list compared here is empty
    for route, extra in (
        ("list-agents", {"sort": "evil", "role": "agent", "status": "pending"}),
        ("list-users", {"q": "nobody-has-this", "order": "asc", "limit": "1"}),
        ("list-approvals", {"status": "active", "role": "customer", "page[size]": "1"}),
    ):
        plain = data_page(await client.get(f"{USERS}/{route}", headers=boss.headers))
        odd = data_page(await client.get(f"{USERS}/{route}", params=extra, headers=boss.headers))
        assert odd == plain and plain["data"], route


async def test_list_users_filters_by_role_and_status(client: httpx.AsyncClient, settings: Settings) -> None:
    """`role` and `status` narrow list-users; it holds customers and agents only, never admins."""
    boss = await admin(client, settings)
    made = {
        state: (await make(client, boss, state)).id for state in ("customer", "pending", "active", "rejected")
    }
    cases = [
        ({"role": "agent", "status": "pending"}, {"pending"}),
        ({"role": "agent", "status": "active"}, {"active"}),
        ({"role": "agent", "status": "rejected"}, {"rejected"}),
        ({"role": "agent"}, {"pending", "active", "rejected"}),
        ({"role": "customer"}, {"customer"}),
        ({"status": "active"}, {"customer", "active"}),
        ({}, {"customer", "pending", "active", "rejected"}),
    ]
    for params, expected in cases:
        rows = await listed(client, boss, "list-users", **params)
        shown = {u["id"] for u in rows}
        assert {state for state, user_id in made.items() if user_id in shown} == expected, params
        for u in rows:
            assert u["role"] in ("customer", "agent") and u["id"] != boss.id, u
            assert (u["role"], u["status"]) == (
                params.get("role", u["role"]),
                params.get("status", u["status"]),
            )
    pending = {"role": "agent", "status": "pending"}
    pending_users = data_page(await client.get(f"{USERS}/list-users", params=pending, headers=boss.headers))
    approvals = data_page(await client.get(f"{USERS}/list-approvals", headers=boss.headers))
    assert pending_users["count"] == approvals["count"]


@pytest.mark.parametrize(("param", "value"), [("role", "admin"), ("role", "Agent"), ("status", "deleted")])
async def test_list_users_refuses_an_unknown_filter_value(
    client: httpx.AsyncClient, settings: Settings, param: str, value: str
) -> None:
    """A filter value outside api.md's set is 400 naming the parameter."""
    boss = await admin(client, settings)
    response = await client.get(f"{USERS}/list-users", params={param: value}, headers=boss.headers)
    assert_error(response, 400, "validation_error", param)


async def test_list_approvals_holds_only_pending_agents_oldest_first(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Approved, rejected and deleted agents leave the approvals list; the rest come oldest first."""
    boss = await admin(client, settings)
    first, second = await make(client, boss, "pending"), await make(client, boss, "pending")
    gone = [await make(client, boss, state) for state in ("active", "rejected", "deleted", "customer")]
    rows = await every_row(client, boss, "list-approvals")
    assert all((u["role"], u["status"]) == ("agent", "pending") for u in rows)
    assert [u["created_at"] for u in rows] == sorted(u["created_at"] for u in rows)
    ids = [u["id"] for u in rows]
    assert ids[-2:] == [first.id, second.id]  # the newest two, at the end
    assert not {p.id for p in gone} & set(ids)


async def test_list_agents_lists_active_customers_matching_q(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """list-agents shows only customers; `q` matches email or full name, ignoring case."""
    tag = uuid.uuid4().hex[:10]
    boss = await admin(client, settings)
    by_name = await make(client, boss, "customer", first_name=f"Quinn{tag}", last_name="Lee")
    by_email = await make(client, boss, "customer", email=f"Q{tag}@Example.com")
    for state in ("pending", "active", "rejected"):
        await make(client, boss, state, first_name=f"Quinn{tag}")
    body = {"email": f"a{tag}@example.com", "password": PASSWORD, "first_name": tag, "last_name": tag}
    assert (await client.post(f"{USERS}/create-admin", json=body, headers=boss.headers)).status_code == 201
    agent = await make(client, boss, "active")
    agent.token = await login(client, agent.email)
    for caller in (boss, agent):
        for q in (tag, tag.upper(), f" {tag} "):
            assert await ids(client, caller, "list-agents", q=q) == [by_email.id, by_name.id], q
        assert await ids(client, caller, "list-agents", q=f"QUINN{tag} lEE") == [by_name.id]
        assert await ids(client, caller, "list-agents", q=f"q{tag}@example") == [by_email.id]
        rows = await listed(client, caller, "list-agents")
        assert all((u["role"], u["status"]) == ("customer", "active") for u in rows)


async def test_deleted_agents_appear_in_no_list(client: httpx.AsyncClient, settings: Settings) -> None:
    """A deleted agent, pending or approved before, is gone from every list (customers can't be deleted)."""
    tag = uuid.uuid4().hex[:10]
    boss = await admin(client, settings)
    was_pending = await make(client, boss, "deleted", first_name=f"Del{tag}")
    was_active = await signup(client, "agent", first_name=f"Del{tag}")
    path = f"{USERS}/approve-delete/{was_active.id}"
    assert (await client.put(path, json={"is_approved": True}, headers=boss.headers)).status_code == 200
    assert (await client.delete(path, headers=boss.headers)).status_code == 200
    deleted = {was_pending.id, was_active.id}
    for params in ({}, {"role": "agent"}, {"status": "active"}, {"status": "pending"}):
        assert not deleted & set(await ids(client, boss, "list-users", **params)), params
    assert not deleted & {u["id"] for u in await every_row(client, boss, "list-approvals")}
    assert not deleted & set(await ids(client, boss, "list-agents", q=tag))
    customer = await signup(client)
    refused = await client.delete(f"{USERS}/approve-delete/{customer.id}", headers=boss.headers)
    assert_error(refused, 400, "validation_error")
