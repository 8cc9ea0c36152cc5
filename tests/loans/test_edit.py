"""Editing a loan: only its agent, only before approval; terms recomputed, each edit recorded."""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.loans import (
    LOANS,
    LoansTable,
    assert_error,
    create,
    decide,
    edit,
    expected_amount,
    expected_emi,
    history,
    random_principal,
)
from tests.support.people import Cast
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio


def _change(old_months: int, **fields: Any) -> dict[str, Any]:
    """What an edit sends: a principal in the given tier and/or months other than the old ones."""
    body: dict[str, Any] = {}
    if "principal" in fields:
        low, high = fields["principal"]
        body["principal"] = random_principal(low, high)
    if "months" in fields:
        body["months"] = random.choice([n for n in range(1, 481) if n != old_months])
    return body


@pytest.mark.parametrize(
    ("edit_fields", "changed"),
    [
        pytest.param({"months": True}, {"months", "emi", "amount"}, id="months"),
        pytest.param(
            {"principal": (10_000, 999_999)}, {"principal", "emi", "amount"}, id="principal-same-tier"
        ),
        pytest.param(
            {"principal": (1_000_000, 2_499_999)},
            {"principal", "interest", "emi", "amount"},
            id="principal-next-tier",
        ),
        pytest.param(
            {"principal": (2_500_000, 100_000_000), "months": True},
            {"principal", "months", "interest", "emi", "amount"},
            id="both",
        ),
    ],
)
async def test_agent_edit_recomputes_and_records(
    client: httpx.AsyncClient, people: Cast, edit_fields: dict[str, Any], changed: set[str]
) -> None:
    """The agent's edit recomputes the terms, bumps the version and records only the changed fields."""
    loan = await create(client, people.agent, people.customer, random_principal(10_000, 999_999))
    body = _change(loan["months"], **edit_fields)
    response = await edit(client, people.agent, loan["id"], **body)
    assert response.status_code == 200, response.text
    after = response.json()["data"]
    principal = Decimal(body.get("principal", loan["principal"]))
    months = body.get("months", loan["months"])
    emi = expected_emi(principal, Decimal(after["interest"]), months)
    assert (after["principal"], after["months"], after["emi"]) == (f"{principal:.2f}", months, str(emi))
    assert after["amount"] == str(expected_amount(principal, Decimal(after["interest"]), months))
    assert (after["status"], after["version"], after["id"]) == ("NEW", 2, loan["id"])
    assert after["created_at"] == loan["created_at"]
    assert datetime.fromisoformat(after["modified_at"]) > datetime.fromisoformat(loan["modified_at"])

    rows = await history(client, people.agent, loan["id"])
    assert [(r["version"], r["change"], r["changed_by"]) for r in rows[1:]] == [
        (2, "edited", people.agent.id)
    ]
    assert rows[1]["fields"] == {name: {"old": loan[name], "new": after[name]} for name in sorted(changed)}


async def test_editing_a_rejected_loan_resubmits_it(client: httpx.AsyncClient, people: Cast) -> None:
    """Editing a REJECTED loan makes it NEW again (no dates), recorded, and open to a new decision."""
    loan = await create(client, people.agent, people.customer, months=random.randint(1, 240))
    assert (await decide(client, people.admin, loan["id"], "REJECTED")).status_code == 200
    months = loan["months"] + random.randint(1, 240)
    response = await edit(client, people.agent, loan["id"], months=months)
    assert response.status_code == 200, response.text
    after = response.json()["data"]
    assert (after["status"], after["version"], after["months"]) == ("NEW", 3, months)
    assert after["start_date"] is None and after["end_date"] is None
    rows = await history(client, people.admin, loan["id"])
    assert [(r["version"], r["change"]) for r in rows] == [(1, "created"), (2, "rejected"), (3, "edited")]
    assert rows[2]["fields"]["status"] == {"old": "REJECTED", "new": "NEW"}
    assert set(rows[2]["fields"]) == {"status", "months", "emi", "amount"}
    again = await decide(client, people.admin, loan["id"], "APPROVED")
    assert again.status_code == 200 and again.json()["data"]["version"] == 4


async def test_approved_loan_is_frozen(client: httpx.AsyncClient, people: Cast, table: LoansTable) -> None:
    """Editing an APPROVED loan is 409 loan_not_editable and changes nothing."""
    loan = await create(client, people.agent, people.customer)
    approved = (await decide(client, people.admin, loan["id"], "APPROVED")).json()["data"]
    for body in ({"months": 7}, {"principal": "20000"}, {"principal": 30000, "months": 9}):
        assert_error(await edit(client, people.agent, loan["id"], **body), 409, "loan_not_editable")
    got = await client.get(f"{LOANS}/{loan['id']}", headers=people.agent.headers)
    assert got.json()["data"] == approved
    assert await table.history_versions(loan["id"]) == [1, 2]


@pytest.mark.parametrize("who", ["other_agent", "admin", "customer", "other_customer"])
async def test_only_the_requesting_agent_may_edit(
    client: httpx.AsyncClient, people: Cast, table: LoansTable, who: str
) -> None:
    """Another agent, an admin or a customer (even the borrower) gets 403 and nothing changes."""
    loan = await create(client, people.agent, people.customer)
    response = await edit(client, getattr(people, who), loan["id"], months=random.randint(1, 480))
    assert_error(response, 403, "forbidden")
    assert await table.version(loan["id"]) == 1
    assert await table.history_versions(loan["id"]) == [1]


async def test_edit_of_unknown_loan_is_404(client: httpx.AsyncClient, people: Cast) -> None:
    """An edit of a loan id that does not exist is 404."""
    assert_error(await edit(client, people.agent, str(uuid.uuid4()), months=12), 404, "not_found")


@pytest.mark.parametrize(
    "body", [{}, {"principal": None}, {"months": None}, {"principal": None, "months": None}]
)
async def test_edit_needs_principal_or_months(
    client: httpx.AsyncClient, people: Cast, table: LoansTable, body: dict[str, Any]
) -> None:
    """An edit with neither principal nor months is 400 and writes nothing."""
    loan = await create(client, people.agent, people.customer)
    assert_error(await edit(client, people.agent, loan["id"], **body), 400, "validation_error")
    assert await table.history_versions(loan["id"]) == [1]


async def test_agent_rejected_after_requesting_can_no_longer_edit(
    client: httpx.AsyncClient, people: Cast, table: LoansTable
) -> None:
    """Once an admin rejects the agent, their edits are refused within api.md's 2 seconds."""
    loan = await create(client, people.agent, people.customer)
    revoked = await client.put(
        f"/api/user/approve-delete/{people.agent.id}",
        json={"is_approved": False},
        headers=people.admin.headers,
    )
    assert revoked.status_code == 200, revoked.text
    versions = 1  # the request's, then one per edit made before the rejection reached the loans actor

    async def refused() -> httpx.Response | None:
        nonlocal versions
        response = await edit(client, people.agent, loan["id"], months=random.randint(1, 480))
        if response.status_code == 403:
            return response
        if response.status_code != 200:
            pytest.fail(response.text)
        versions += 1
        return None

    response = await eventually(refused, timeout=2.0, interval=0.1, what="the agent's edits were not refused")
    assert_error(response, 403, "forbidden")
    assert await table.history_versions(loan["id"]) == list(range(1, versions + 1))
