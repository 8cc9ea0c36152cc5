"""GET /api/loan/quote: the terms and schedule a loan would have, answered without saving anything."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from tests.support.loans import LOANS, assert_error, create, expected_amount, expected_emi
from tests.support.people import Cast, Person

pytestmark = pytest.mark.anyio


async def quote(client: httpx.AsyncClient, who: Person, **params: Any) -> httpx.Response:
    return await client.get(f"{LOANS}/quote", params=params, headers=who.headers)


async def counts(settings: Settings) -> tuple[int, int, int]:
    """Loans, history rows and waiting events: what a write would add to."""
    con = await asyncpg.connect(role_dsn(settings, "loans"))
    try:
        row = await con.fetchrow(
            """SELECT (SELECT count(*) FROM loans.loans), (SELECT count(*) FROM loans.loan_history),
                      (SELECT count(*) FROM loans.outbox)"""
        )
    finally:
        await con.close()
    assert row is not None
    return row[0], row[1], row[2]


async def test_the_design_example_is_quoted_as_the_schedule_collects(
    client: httpx.AsyncClient, crew: Cast, settings: Settings
) -> None:
    """50,000 over 12 months (design §5): EMI 4,359.83, the last payment 4,359.85, amount 52,317.98;
    no due dates (nothing starts) and nothing written."""
    before = await counts(settings)
    response = await quote(client, crew.customer, principal="50000", months=12)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["message"]) == (True, "Loan quote")
    data = body["data"]
    assert set(data) == {"principal", "interest", "months", "emi", "amount", "rows"}
    assert (data["principal"], data["interest"], data["months"]) == ("50000.00", "8.45", 12)
    assert (data["emi"], data["amount"]) == ("4359.83", "52317.98")
    rows = data["rows"]
    assert [row["month"] for row in rows] == list(range(1, 13))
    assert [row["payment"] for row in rows] == ["4359.83"] * 11 + ["4359.85"]
    assert all(row["due_date"] is None for row in rows)
    assert rows[0] == {
        "month": 1,
        "due_date": None,
        "payment": "4359.83",
        "interest": "352.08",  # 50,000 × 8.45 / 1200 = 352.083…
        "principal": "4007.75",
        "balance": "45992.25",
    }
    assert rows[-1]["balance"] == "0.00"
    assert sum(Decimal(row["payment"]) for row in rows) == Decimal(data["amount"])
    assert await counts(settings) == before


@pytest.mark.parametrize(("principal", "months"), [("1000000", 60), ("2500000.50", 480), ("10000.01", 1)])
async def test_a_quote_is_what_a_create_then_gives(
    client: httpx.AsyncClient, crew: Cast, principal: str, months: int
) -> None:
    """The quoted terms and rows are the loan's own once it is requested (the same rules)."""
    quoted = (await quote(client, crew.agent, principal=principal, months=months)).json()["data"]
    assert quoted["emi"] == str(expected_emi(Decimal(principal), Decimal(quoted["interest"]), months))
    assert quoted["amount"] == str(expected_amount(Decimal(principal), Decimal(quoted["interest"]), months))
    loan = await create(client, crew.agent, crew.customer, principal, months)
    assert {k: loan[k] for k in ("principal", "interest", "months", "emi", "amount")} == {
        k: quoted[k] for k in ("principal", "interest", "months", "emi", "amount")
    }
    response = await client.get(f"{LOANS}/{loan['id']}/schedule", headers=crew.agent.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["rows"] == quoted["rows"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"principal": "9999.99", "months": 12}, "principal"),
        ({"principal": "100000000.01", "months": 12}, "principal"),
        ({"principal": "10000.001", "months": 12}, "principal"),  # never rounded
        ({"principal": "lots", "months": 12}, "principal"),
        ({"months": 12}, "principal"),
        ({"principal": "50000", "months": 0}, "months"),
        ({"principal": "50000", "months": 481}, "months"),
        ({"principal": "50000", "months": "1.5"}, "months"),
        ({"principal": "50000"}, "months"),
    ],
)
async def test_terms_a_create_refuses_a_quote_refuses(
    client: httpx.AsyncClient, crew: Cast, params: dict[str, Any], field: str
) -> None:
    response = await quote(client, crew.customer, **params)
    assert_error(response, 400, "validation_error")
    assert response.json()["error"]["details"]["field"] == field


@pytest.mark.parametrize("path", ["/quote", "/quote/", "/QUOTE"])
async def test_quote_is_no_loan_id(client: httpx.AsyncClient, crew: Cast, path: str) -> None:
    """`quote` is the quote's path, never a `{loan_id}` (an id that is not a UUID is 404)."""
    response = await client.get(
        f"{LOANS}{path}", params={"principal": "50000", "months": 12}, headers=crew.admin.headers
    )
    if path != "/QUOTE":  # Litestar takes a trailing slash as the path without one, on every route
        assert response.status_code == 200 and "rows" in response.json()["data"], response.text
    else:
        assert_error(response, 404, "not_found")
    for sub in ("history", "schedule"):
        assert_error(await client.get(f"{LOANS}/quote/{sub}", headers=crew.admin.headers), 404, "not_found")


async def test_a_quote_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{LOANS}/quote", params={"principal": "50000", "months": 12})
    assert_error(response, 401, "unauthenticated")
