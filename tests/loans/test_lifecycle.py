"""A loan's life through the edge: requested, seen by its customer, edited, decided once, recorded."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.loans import (
    LOANS,
    assert_error,
    create,
    decide,
    edit,
    expected_amount,
    expected_emi,
    history,
    months_later,
    random_principal,
)
from tests.support.people import Cast, Person, signup

pytestmark = pytest.mark.anyio

TRACKED = ("principal", "months", "interest", "emi", "amount", "status", "start_date", "end_date")


@pytest.mark.parametrize(
    ("principal", "months", "interest", "emi", "amount"),
    [
        pytest.param(1_000_000, 60, "10.00", "21247.04", "1274822.84", id="reference-1M-60"),
        pytest.param("50000", 12, "8.45", "4359.83", "52317.98", id="reference-50k-12"),
    ],
)
async def test_reference_terms(
    client: httpx.AsyncClient, people: Cast, principal: Any, months: int, interest: str, emi: str, amount: str
) -> None:
    """The design's reference loans get exactly its rate, EMI and amount, as two-decimal strings."""
    loan = await create(client, people.agent, people.customer, principal, months)
    assert (loan["interest"], loan["emi"], loan["amount"]) == (interest, emi, amount)
    assert loan["principal"] == f"{Decimal(principal):.2f}" and loan["months"] == months


@pytest.mark.parametrize(
    ("principal", "interest"),
    [
        ("10000.00", "8.45"),
        ("999999.99", "8.45"),
        ("1000000.00", "10.00"),
        ("2499999.99", "10.00"),
        ("2500000.00", "12.00"),
        ("100000000.00", "12.00"),
    ],
)
async def test_interest_follows_the_tier(
    client: httpx.AsyncClient, people: Cast, principal: str, interest: str
) -> None:
    """Each tier's edges get that tier's rate, and the EMI and amount follow the rules."""
    months = random.randint(1, 480)
    loan = await create(client, people.agent, people.customer, principal, months)
    emi = expected_emi(Decimal(principal), Decimal(interest), months)
    assert (loan["principal"], loan["interest"], loan["emi"]) == (principal, interest, str(emi))
    assert loan["amount"] == str(expected_amount(Decimal(principal), Decimal(interest), months))


async def test_new_loan_names_its_parties_and_its_customer_sees_it(
    client: httpx.AsyncClient, people: Cast
) -> None:
    """A 201 NEW loan carries customer and agent details; its customer lists, reads and schedules it."""
    first, last = f"Zoë-{uuid.uuid4().hex[:6]}", f"O'Brien-{uuid.uuid4().hex[:6]}"
    customer = await signup(client, "customer", first_name=first, last_name=last)
    loan = await create(client, people.agent, customer, random_principal(), random.randint(2, 120))
    assert uuid.UUID(loan["id"]) and loan["status"] == "NEW" and loan["version"] == 1
    assert (loan["customer_id"], loan["customer_email"], loan["customer_name"]) == (
        customer.id,
        customer.email,
        f"{first} {last}",
    )
    assert (loan["agent_id"], loan["agent_email"]) == (people.agent.id, people.agent.email)
    assert loan["start_date"] is None and loan["end_date"] is None
    assert loan["created_at"] == loan["modified_at"]

    mine = await client.get(f"{LOANS}/list-loans-customer", headers=customer.headers)
    assert mine.status_code == 200, mine.text
    assert (mine.json()["count"], mine.json()["data"]) == (1, [loan])
    got = await client.get(f"{LOANS}/{loan['id']}", headers=customer.headers)
    assert got.status_code == 200 and got.json()["data"] == loan
    schedule = await _schedule(client, customer, loan)
    assert all(row["due_date"] is None for row in schedule)


@pytest.mark.parametrize("principal", [10_000, "10000.5", "10000.010", "99999.99", 1_000_000])
async def test_a_create_answers_exactly_the_loan_it_stored(
    client: httpx.AsyncClient, people: Cast, principal: str | int
) -> None:
    """A create's answer is built before its one statement writes the row: whatever the
    principal's spelling, it is the loan as reading it gives it, to the digit and the
    microsecond; its history row is the creation, at the same time."""
    loan = await create(client, people.agent, people.customer, principal, 36)
    got = await client.get(f"{LOANS}/{loan['id']}", headers=people.agent.headers)
    assert got.status_code == 200, got.text
    assert got.json()["data"] == loan
    assert loan["principal"] == f"{Decimal(principal):.2f}"
    [created] = await history(client, people.agent, loan["id"])
    assert (created["version"], created["change"], created["changed_by"]) == (1, "created", people.agent.id)
    assert datetime.fromisoformat(created["changed_at"]) == datetime.fromisoformat(loan["created_at"])
    assert created["fields"]["principal"] == {"old": None, "new": loan["principal"]}


async def _schedule(client: httpx.AsyncClient, who: Person, loan: dict[str, Any]) -> list[dict[str, Any]]:
    """The loan's schedule, checked against its terms: rows sum to the principal and end at 0.00."""
    response = await client.get(f"{LOANS}/{loan['id']}/schedule", headers=who.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    rows: list[dict[str, Any]] = data["rows"]
    assert data["loan_id"] == loan["id"]
    assert [row["month"] for row in rows] == list(range(1, loan["months"] + 1))
    assert sum(Decimal(row["principal"]) for row in rows) == Decimal(loan["principal"])
    assert rows[-1]["balance"] == "0.00"
    assert all(row["payment"] == loan["emi"] for row in rows[:-1])
    balance = Decimal(loan["principal"])
    for row in rows:
        assert Decimal(row["payment"]) == Decimal(row["interest"]) + Decimal(row["principal"])
        balance -= Decimal(row["principal"])
        assert Decimal(row["balance"]) == balance
    return rows


def _today_window(before: date) -> set[date]:
    return {before, datetime.now(UTC).date()}


async def test_lifecycle_create_edit_approve(client: httpx.AsyncClient, people: Cast) -> None:
    """Created → edited → approved: dates, due dates, 409 on a second decision, history 1..3."""
    loan = await create(client, people.agent, people.customer, random_principal(), random.randint(2, 60))
    months = loan["months"] + random.randint(1, 60)
    edited = await edit(client, people.agent, loan["id"], months=months)
    assert edited.status_code == 200, edited.text
    assert edited.json()["data"]["version"] == 2

    today = datetime.now(UTC).date()
    decided = await decide(client, people.admin, loan["id"], "APPROVED")
    assert decided.status_code == 200, decided.text
    approved = decided.json()["data"]
    assert approved["status"] == "APPROVED" and approved["version"] == 3
    start = date.fromisoformat(approved["start_date"])
    assert start in _today_window(today)
    assert approved["end_date"] == months_later(start, months).isoformat()

    got = await client.get(f"{LOANS}/{loan['id']}", headers=people.customer.headers)
    assert got.json()["data"] == approved
    rows = await _schedule(client, people.customer, approved)
    assert [row["due_date"] for row in rows] == [
        months_later(start, n).isoformat() for n in range(1, months + 1)
    ]
    assert rows[-1]["due_date"] == approved["end_date"]

    for status in ("APPROVED", "REJECTED"):
        assert_error(await decide(client, people.admin, loan["id"], status), 409, "loan_already_decided")

    rows = await history(client, people.admin, loan["id"])
    assert [(r["version"], r["change"]) for r in rows] == [(1, "created"), (2, "edited"), (3, "approved")]
    assert [r["changed_by"] for r in rows] == [people.agent.id, people.agent.id, people.admin.id]
    assert [r["changed_at"] for r in rows] == sorted(r["changed_at"] for r in rows)
    created, changed, approval = (r["fields"] for r in rows)
    assert created == {name: {"old": None, "new": loan[name]} for name in TRACKED if loan[name] is not None}
    assert changed == {
        "months": {"old": loan["months"], "new": months},
        "emi": {"old": loan["emi"], "new": approved["emi"]},
        "amount": {"old": loan["amount"], "new": approved["amount"]},
    }
    assert approval == {
        "status": {"old": "NEW", "new": "APPROVED"},
        "start_date": {"old": None, "new": approved["start_date"]},
        "end_date": {"old": None, "new": approved["end_date"]},
    }


async def test_rejection_is_final_and_recorded(client: httpx.AsyncClient, people: Cast) -> None:
    """A rejected loan keeps null dates, a second decision is 409, and history records the rejection."""
    loan = await create(client, people.agent, people.customer)
    decided = await decide(client, people.admin, loan["id"], "REJECTED")
    assert decided.status_code == 200, decided.text
    rejected = decided.json()["data"]
    assert (rejected["status"], rejected["version"]) == ("REJECTED", 2)
    assert rejected["start_date"] is None and rejected["end_date"] is None
    for status in ("REJECTED", "APPROVED"):
        assert_error(await decide(client, people.admin, loan["id"], status), 409, "loan_already_decided")
    schedule = await _schedule(client, people.customer, rejected)
    assert all(row["due_date"] is None for row in schedule)
    rows = await history(client, people.agent, loan["id"])
    assert [(r["version"], r["change"]) for r in rows] == [(1, "created"), (2, "rejected")]
    assert rows[1]["fields"] == {"status": {"old": "NEW", "new": "REJECTED"}}
    assert rows[1]["changed_by"] == people.admin.id
