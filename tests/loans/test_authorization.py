"""Who may call which loan route, and what a customer can learn about other customers' loans."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.support.loans import LOANS, LoansTable, assert_error, create
from tests.support.people import Cast, Person

pytestmark = pytest.mark.anyio

ROLES = (
    "anonymous",
    "customer",
    "other_customer",
    "pending_agent",  # has no token: signup gives a pending agent none
    "agent",  # approved, requested the loan the route acts on
    "other_agent",  # approved, did not
    "rejected_agent",
    "deleted_agent",
    "admin",
)
# The loan the routes act on is NEW, requested by `agent` for `customer`.
# fmt: off
TABLE: dict[str, tuple[int, ...]] = {
    #                     anon cust othc pend agnt otha rejd deld admn
    "create":            (401, 403, 403, 401, 201, 201, 403, 403, 403),
    "decide":            (401, 403, 403, 401, 403, 403, 403, 403, 200),
    "edit":              (401, 403, 403, 401, 200, 403, 403, 403, 403),
    "list-admin-agent":  (401, 403, 403, 401, 200, 200, 403, 403, 200),
    "list-customer":     (401, 200, 200, 401, 403, 403, 403, 403, 403),
    "get":               (401, 200, 404, 401, 200, 200, 403, 403, 200),
    "history":           (401, 403, 403, 401, 200, 200, 403, 403, 200),
    "schedule":          (401, 200, 404, 401, 200, 200, 403, 403, 200),
    "quote":             (401, 200, 200, 401, 200, 200, 403, 403, 200),
}
# fmt: on
CASES = [
    pytest.param(route, role, status, id=f"{route}-{role}-{status}")
    for route, statuses in TABLE.items()
    for role, status in zip(ROLES, statuses, strict=True)
]
CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}

Call = Callable[[httpx.AsyncClient, Cast, dict[str, Any], dict[str, str]], Awaitable[httpx.Response]]
CALLS: dict[str, Call] = {
    "create": lambda c, p, loan, h: c.post(
        f"{LOANS}/customer-loan",
        json={"customer_id": p.customer.id, "principal": "25000.50", "months": 24},
        headers=h,
    ),
    "decide": lambda c, p, loan, h: c.put(
        f"{LOANS}/approve-reject-loan/{loan['id']}", json={"status": "APPROVED"}, headers=h
    ),
    "edit": lambda c, p, loan, h: c.put(f"{LOANS}/edit-loan/{loan['id']}", json={"months": 36}, headers=h),
    "list-admin-agent": lambda c, p, loan, h: c.get(f"{LOANS}/list-loans-admin-agent", headers=h),
    "list-customer": lambda c, p, loan, h: c.get(f"{LOANS}/list-loans-customer", headers=h),
    "get": lambda c, p, loan, h: c.get(f"{LOANS}/{loan['id']}", headers=h),
    "history": lambda c, p, loan, h: c.get(f"{LOANS}/{loan['id']}/history", headers=h),
    "schedule": lambda c, p, loan, h: c.get(f"{LOANS}/{loan['id']}/schedule", headers=h),
    "quote": lambda c, p, loan, h: c.get(
        f"{LOANS}/quote", params={"principal": "50000", "months": 12}, headers=h
    ),
}


def _headers(crew: Cast, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    person: Person = getattr(crew, role)
    return person.headers


@pytest.mark.parametrize(("route", "role", "status"), CASES)
async def test_route_by_role(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable, route: str, role: str, status: int
) -> None:
    """Each loan route answers each role as api.md's table says; refusals write nothing."""
    loan = await create(client, crew.agent, crew.customer, "50000", 12)
    before = await table.loans_of(crew.customer)
    response = await CALLS[route](client, crew, loan, _headers(crew, role))
    if status >= 400:
        assert_error(response, status, CODES[status])
        assert await table.loans_of(crew.customer) == before
        assert await table.history_versions(loan["id"]) == [1]
        return
    assert response.status_code == status, response.text
    data = response.json()["data"]
    if route == "create":
        assert data["customer_id"] == crew.customer.id and data["agent_id"] == getattr(crew, role).id
        assert await table.loans_of(crew.customer) == before + 1
    elif route in ("decide", "edit", "get"):
        assert data["id"] == loan["id"]
    elif route == "schedule":
        assert data["loan_id"] == loan["id"]
    elif route == "quote":
        assert (data["amount"], len(data["rows"])) == (loan["amount"], 12)
    elif route == "history":
        assert [row["version"] for row in data] == [1]
    elif route == "list-admin-agent":
        assert data[0]["id"] == loan["id"]  # the newest change of all
    elif route == "list-customer":
        person: Person = getattr(crew, role)
        assert all(row["customer_id"] == person.id for row in data)
        assert bool(data) == (person is crew.customer)


def _unsigned(token: str) -> str:
    """The same claims with `alg: none` and no signature."""
    claims = token.split(".")[1]
    head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    return f"{head.decode()}.{claims}."


@pytest.mark.parametrize("kind", ["scheme-only", "garbage", "basic", "alg-none", "tampered"])
async def test_bad_tokens_are_401_on_loan_routes(client: httpx.AsyncClient, crew: Cast, kind: str) -> None:
    """A malformed, unsigned or tampered token is 401 on loan routes, even with an admin's claims."""
    token = crew.admin.token or ""
    header = {
        "scheme-only": "Bearer ",
        "garbage": "Bearer not.a.token",
        "basic": f"Basic {token}",
        "alg-none": f"Bearer {_unsigned(token)}",
        "tampered": f"Bearer {token[:-4]}{'AAAA' if not token.endswith('AAAA') else 'BBBB'}",
    }[kind]
    response = await client.get(f"{LOANS}/list-loans-admin-agent", headers={"Authorization": header})
    assert_error(response, 401, "unauthenticated")


async def test_customer_lists_only_own_loans(client: httpx.AsyncClient, people: Cast) -> None:
    """list-loans-customer shows the caller's loans only, whatever customer_id the query names."""
    own = {(await create(client, people.agent, people.customer))["id"] for _ in range(random.randint(2, 4))}
    theirs = await create(client, people.other_agent, people.other_customer)
    for query in ("", f"?customer_id={people.other_customer.id}", f"?agent_id={people.other_agent.id}"):
        response = await client.get(f"{LOANS}/list-loans-customer{query}", headers=people.customer.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert {row["id"] for row in body["data"]} == own and body["count"] == len(own)
        assert theirs["id"] not in response.text
    other = await client.get(f"{LOANS}/list-loans-customer", headers=people.other_customer.headers)
    assert [row["id"] for row in other.json()["data"]] == [theirs["id"]]


async def test_customer_cannot_see_another_customers_loan(client: httpx.AsyncClient, people: Cast) -> None:
    """Another customer's loan, schedule and history answer exactly like a loan that does not exist."""
    loan = await create(client, people.agent, people.customer)
    missing = str(uuid.uuid4())
    for suffix in ("", "/schedule"):
        theirs = await client.get(f"{LOANS}/{loan['id']}{suffix}", headers=people.other_customer.headers)
        nothing = await client.get(f"{LOANS}/{missing}{suffix}", headers=people.other_customer.headers)
        assert_error(theirs, 404, "not_found")
        assert theirs.json() == nothing.json()
        assert loan["id"] not in theirs.text and people.customer.id not in theirs.text
    for who in (people.customer, people.other_customer):
        assert_error(await client.get(f"{LOANS}/{loan['id']}/history", headers=who.headers), 403, "forbidden")
    staff_list = await client.get(
        f"{LOANS}/list-loans-admin-agent?customer_id={people.customer.id}",
        headers=people.other_customer.headers,
    )
    assert_error(staff_list, 403, "forbidden")


async def test_guessed_loan_ids_are_404(client: httpx.AsyncClient, people: Cast) -> None:
    """A customer guessing random loan ids learns nothing: every guess is 404 for loan and schedule."""
    await create(client, people.agent, people.other_customer)
    for _ in range(20):
        guess = str(uuid.uuid4())
        for suffix in ("", "/schedule"):
            response = await client.get(f"{LOANS}/{guess}{suffix}", headers=people.customer.headers)
            assert_error(response, 404, "not_found")


async def test_staff_reads_any_loan(client: httpx.AsyncClient, people: Cast) -> None:
    """Admins and every approved agent (not only the requester) read any loan, its schedule and history."""
    loan = await create(client, people.agent, people.customer)
    for who in (people.admin, people.agent, people.other_agent):
        for suffix in ("", "/schedule", "/history"):
            response = await client.get(f"{LOANS}/{loan['id']}{suffix}", headers=who.headers)
            assert response.status_code == 200, response.text
