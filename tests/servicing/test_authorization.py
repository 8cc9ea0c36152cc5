"""Who may call which servicing route, through the edge, and what a customer learns of others' loans.

The plan's rules (tools/servicing-plan.md, api.md "Servicing"): repayments are recorded by an
admin or an approved agent, reversed and close of business run by an admin only; the reads of an
account are for the admin, any approved agent and the loan's own customer (another customer gets
404, as if it did not exist); a rejected or deleted agent is 403 as on loan routes; a pending
agent has no token (401, like anonymous).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from actors.contracts.config import Settings
from tests.support.loans import LOANS, assert_error, create, decide
from tests.support.people import Cast, Person, cast
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio
BOOK = "/api/servicing"

ROLES = (
    "anonymous",
    "customer",  # the loan's borrower
    "other_customer",
    "pending_agent",  # has no token: signup gives a pending agent none
    "agent",  # approved, requested the loan
    "other_agent",  # approved, did not
    "rejected_agent",
    "deleted_agent",
    "admin",
)
# The routes act on an APPROVED loan requested by `agent` for `customer`.
# fmt: off
TABLE: dict[str, tuple[int, ...]] = {
    #                     anon cust othc pend agnt otha rejd deld admn
    "record":            (401, 403, 403, 401, 201, 201, 403, 403, 201),
    "list":              (401, 200, 404, 401, 200, 200, 403, 403, 200),
    "reverse":           (401, 403, 403, 401, 403, 403, 403, 403, 200),
    "statement":         (401, 200, 404, 401, 200, 200, 403, 403, 200),
    "payoff":            (401, 200, 404, 401, 200, 200, 403, 403, 200),
    "business-date":     (401, 200, 200, 401, 200, 200, 403, 403, 200),
    "run-cob":           (401, 403, 403, 401, 403, 403, 403, 403, 200),
    "cob-status":        (401, 403, 403, 401, 403, 403, 403, 403, 404),  # admin: no run to that date
    "portfolio":         (401, 403, 403, 401, 403, 403, 403, 403, 200),
    "portfolio-csv":     (401, 403, 403, 401, 403, 403, 403, 403, 200),
}
# fmt: on
CASES = [
    pytest.param(route, role, status, id=f"{route}-{role}-{status}")
    for route, statuses in TABLE.items()
    for role, status in zip(ROLES, statuses, strict=True)
]
CODES = {401: "unauthenticated", 403: None, 404: "not_found"}  # 403: forbidden or agent_not_approved
WRITES = ("record", "reverse")


class Book:
    """The approved loan the routes act on, and what the test needs to know of it."""

    def __init__(self, crew: Cast, loan_id: str, business_date: str) -> None:
        self.crew = crew
        self.loan_id = loan_id
        self.business_date = business_date


@pytest.fixture(scope="module")
async def book(client: httpx.AsyncClient, settings: Settings) -> AsyncIterator[Book]:
    crew = await cast(client, settings)
    loan = await create(client, crew.agent, crew.customer, "50000", 12)
    decided = await decide(client, crew.admin, loan["id"], "APPROVED")
    assert decided.status_code == 200, decided.text

    async def account_open() -> str:
        # the approval's event opens the account; a request before it lands opens it from loans.get
        response = await client.get(f"{LOANS}/{loan['id']}/statement", headers=crew.admin.headers)
        assert response.status_code == 200, response.text
        today: str = response.json()["data"]["business_date"]
        return today

    yield Book(crew, loan["id"], await eventually(account_open, what="the account did not open"))


async def _transactions(client: httpx.AsyncClient, book: Book) -> list[dict[str, Any]]:
    response = await client.get(
        f"{LOANS}/{book.loan_id}/repayments", params={"page_size": 100}, headers=book.crew.admin.headers
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


async def _recorded(client: httpx.AsyncClient, book: Book) -> str:
    """A transaction of one cent more, recorded by the admin: something to reverse."""
    response = await client.post(
        f"{LOANS}/{book.loan_id}/repayments", json={"amount": "1.00"}, headers=book.crew.admin.headers
    )
    assert response.status_code == 201, response.text
    transaction_id: str = response.json()["data"]["id"]
    return transaction_id


Call = Callable[[httpx.AsyncClient, Book, dict[str, str]], Awaitable[httpx.Response]]


async def _reverse(c: httpx.AsyncClient, b: Book, h: dict[str, str]) -> httpx.Response:
    transaction_id = await _recorded(c, b)
    path = f"{LOANS}/{b.loan_id}/repayments/{transaction_id}/reverse"
    return await c.post(path, json={"reason": "entered twice"}, headers=h)


CALLS: dict[str, Call] = {
    "record": lambda c, b, h: c.post(f"{LOANS}/{b.loan_id}/repayments", json={"amount": "1.00"}, headers=h),
    "list": lambda c, b, h: c.get(f"{LOANS}/{b.loan_id}/repayments", headers=h),
    "reverse": _reverse,
    "statement": lambda c, b, h: c.get(f"{LOANS}/{b.loan_id}/statement", headers=h),
    "payoff": lambda c, b, h: c.get(f"{LOANS}/{b.loan_id}/payoff", headers=h),
    "business-date": lambda c, b, h: c.get(f"{BOOK}/business-date", headers=h),
    # to the business date itself: nothing to do (200), so the shared database's date never moves
    "run-cob": lambda c, b, h: c.post(f"{BOOK}/close-of-business", json={"date": b.business_date}, headers=h),
    "cob-status": lambda c, b, h: c.get(f"{BOOK}/close-of-business/1999-01-01", headers=h),
    "portfolio": lambda c, b, h: c.get(f"{BOOK}/portfolio", headers=h),
    "portfolio-csv": lambda c, b, h: c.get(f"{BOOK}/portfolio", params={"format": "csv"}, headers=h),
}


def _headers(crew: Cast, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    person: Person = getattr(crew, role)
    return person.headers


@pytest.mark.parametrize(("route", "role", "status"), CASES)
async def test_route_by_role(
    client: httpx.AsyncClient, book: Book, route: str, role: str, status: int
) -> None:
    """Each servicing route answers each role as the plan says; a refused write writes nothing."""
    before = await _transactions(client, book) if route in WRITES else []
    response = await CALLS[route](client, book, _headers(book.crew, role))
    if status >= 400:
        assert_error(response, status, CODES.get(status))
        if route == "record":
            assert await _transactions(client, book) == before
        elif route == "reverse":  # the admin's transaction made for the call, not reversed
            after = await _transactions(client, book)
            assert after[:-1] == before and not after[-1]["reversed"]
        return
    assert response.status_code == status, response.text
    if route == "portfolio-csv":
        assert response.headers["content-type"].startswith("text/csv")
        header = response.text.splitlines()[0].split(",")
        assert header[0] == "loan_id" and book.loan_id in response.text
        return
    data = response.json()["data"]
    if route in ("record", "reverse"):
        assert data["loan_id"] == book.loan_id and data["reversed"] is (route == "reverse")
    elif route == "list":
        assert data and all(row["loan_id"] == book.loan_id for row in data)
    elif route == "statement":
        assert (data["loan_id"], data["status"]) == (book.loan_id, "ACTIVE")
    elif route == "payoff":
        assert data["on"] == book.business_date and data["total"]
    elif route == "business-date":
        assert data == {"business_date": book.business_date}
    elif route == "run-cob":
        assert (data["date"], data["status"]) == (book.business_date, "DONE")
    elif route == "portfolio":
        assert data["business_date"] == book.business_date and data["active"] >= 1


@pytest.mark.parametrize("route", ["list", "statement", "payoff"])
async def test_another_customers_account_looks_like_no_account(
    client: httpx.AsyncClient, book: Book, route: str
) -> None:
    """To another customer, an existing loan's account answers exactly as a loan that does not exist."""
    theirs = await CALLS[route](client, book, book.crew.other_customer.headers)
    nobody = Book(book.crew, "00000000-0000-4000-8000-000000000000", book.business_date)
    unknown = await CALLS[route](client, nobody, book.crew.other_customer.headers)
    assert (theirs.status_code, theirs.json()["error"]) == (unknown.status_code, unknown.json()["error"])
    assert book.loan_id not in theirs.text
