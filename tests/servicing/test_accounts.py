"""Accounts: opened from the approval event, or from the loans actor when the event has not
landed; who may see one; the agents' standing; the business date."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.contracts import loans as lm
from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.runtime.serving import ServingActor
from actors.servicing.accounts import open_accounts
from tests.support.batches import apply_as_one_batch, envelope
from tests.support.loans import create, decide, months_later
from tests.support.people import Cast
from tests.support.polling import eventually
from tests.support.servicing import (
    ServicingTable,
    approved_loan,
    call,
    open_account,
    repay,
    statement,
)

pytestmark = pytest.mark.anyio


def _expected_installments(loan: dict[str, Any]) -> list[tuple[int, date, Decimal, Decimal]]:
    """Installment k is schedule row k, due start + k calendar months (design.md §11)."""
    start = date.fromisoformat(loan["start_date"])
    return [
        (r["month"], months_later(start, r["month"]), Decimal(r["interest"]), Decimal(r["principal"]))
        for r in loan["rows"]
    ]


def _installments(rows: list[Any]) -> list[tuple[int, date, Decimal, Decimal]]:
    return [(r["number"], r["due_date"], r["interest"], r["principal"]) for r in rows]


async def test_an_approval_opens_the_account_with_the_schedule_as_installments(
    client: httpx.AsyncClient, settings: Settings, people: Cast
) -> None:
    """The consumer of loans.loan.approved writes the account and one installment per schedule row."""
    loan = await approved_loan(client, people, "120000.00", 31)  # due dates past month ends clamp
    table = ServicingTable(settings)
    account = await table.wait_for_account(loan["id"])
    assert (account["principal"], account["interest"], account["months"]) == (
        Decimal("120000.00"),
        Decimal(loan["interest"]),
        31,
    )
    assert (str(account["customer_id"]), str(account["agent_id"])) == (people.customer.id, people.agent.id)
    assert account["start_date"] == date.fromisoformat(loan["start_date"])
    assert (account["status"], account["outstanding_principal"], account["version"]) == (
        "ACTIVE",
        Decimal("120000.00"),
        1,
    )
    assert _installments(await table.installments(loan["id"])) == _expected_installments(loan)


async def test_an_account_missing_is_opened_from_the_loans_actor_on_the_first_request(
    client: httpx.AsyncClient,
    settings: Settings,
    nc: Client,
    people: Cast,
    servicing_worker: ServingActor[Any],
) -> None:
    """With the account gone (as if the event were late), a statement opens it from loans.get and
    loans.schedule, and the late event then changes nothing."""
    loan = await open_account(client, settings, people, "30000.00", 6)
    table = ServicingTable(settings)
    await table.forget_account(loan["id"])
    assert await table.account(loan["id"]) is None

    reply = await statement(nc, people.customer, loan["id"])
    assert reply.data["status"] == "ACTIVE" and len(reply.data["installments"]) == 6
    assert _installments(await table.installments(loan["id"])) == _expected_installments(loan)
    assert (await repay(nc, people.admin, loan["id"], "500.00")).status == 200

    # the approval event arriving now (a redelivery, or the late one) leaves the account as it is
    before = await table.installments(loan["id"])
    await apply_as_one_batch(servicing_worker, open_accounts, [_approval(loan, people)])
    assert await table.installments(loan["id"]) == before
    account = await table.account(loan["id"])
    assert account is not None and account["paid_principal"] + account["paid_interest"] == Decimal("500.00")


def _approval(loan: dict[str, Any], people: Cast) -> Envelope:
    """The loans.loan.approved event of `loan` (a loans actor's answer with its schedule)."""
    rows = [lm.ScheduleRow(**{**r, "due_date": date.fromisoformat(r["due_date"])}) for r in loan["rows"]]
    data = lm.LoanChanged(
        loan_id=uuid.UUID(loan["id"]),
        customer_id=uuid.UUID(loan["customer_id"]),
        agent_id=uuid.UUID(loan["agent_id"]),
        status="APPROVED",
        principal=Decimal(loan["principal"]),
        interest=Decimal(loan["interest"]),
        months=loan["months"],
        emi=Decimal(loan["emi"]),
        amount=Decimal(loan["amount"]),
        start_date=date.fromisoformat(loan["start_date"]),
        end_date=date.fromisoformat(loan["end_date"]),
        by=uuid.UUID(people.admin.id),
        schedule=rows,
    )
    return envelope("loans.loan.approved", data.loan_id, 2, data)


async def test_an_approval_twice_in_one_batch_opens_one_account_with_one_set_of_installments(
    client: httpx.AsyncClient, settings: Settings, people: Cast, servicing_worker: ServingActor[Any]
) -> None:
    """A redelivery fetched beside the first delivery: the account once, each installment once."""
    loan = await open_account(client, settings, people, "30000.00", 7)
    table = ServicingTable(settings)
    await table.forget_account(loan["id"])
    await apply_as_one_batch(servicing_worker, open_accounts, [_approval(loan, people)] * 2)
    assert _installments(await table.installments(loan["id"])) == _expected_installments(loan)


async def test_two_openers_of_one_account_at_once_write_its_installments_once(
    client: httpx.AsyncClient, settings: Settings, people: Cast, servicing_worker: ServingActor[Any]
) -> None:
    """Two transactions race to open one account (the event and the request fallback): the second
    waits for the first, finds the account, and writes no installment of its own."""
    loan = await open_account(client, settings, people, "30000.00", 9)
    table = ServicingTable(settings)
    for _ in range(5):
        await table.forget_account(loan["id"])
        await asyncio.gather(
            *(
                apply_as_one_batch(servicing_worker, open_accounts, [_approval(loan, people)])
                for _ in range(2)
            )
        )
        assert _installments(await table.installments(loan["id"])) == _expected_installments(loan)


async def test_a_loan_that_is_not_approved_has_no_account(
    client: httpx.AsyncClient, nc: Client, people: Cast
) -> None:
    """NEW or REJECTED → 409 loan_not_active; unknown → 404; nothing is opened."""
    new = await create(client, people.agent, people.customer, "20000.00", 6)
    rejected = await create(client, people.agent, people.customer, "20000.00", 6)
    assert (await decide(client, people.admin, rejected["id"], "REJECTED")).status_code == 200
    for loan_id in (new["id"], rejected["id"]):
        reply = await statement(nc, people.admin, loan_id)
        assert (reply.status, reply.code) == (409, "loan_not_active")
        reply = await repay(nc, people.agent, loan_id, "10.00")
        assert (reply.status, reply.code) == (409, "loan_not_active")
    assert (await statement(nc, people.admin, str(uuid.uuid4()))).status == 404


@pytest.mark.parametrize(
    ("who", "statement_status", "repay_status", "code"),
    [
        ("admin", 200, 200, None),
        ("agent", 200, 200, None),
        ("other_agent", 200, 200, None),
        ("customer", 200, 403, None),
        ("other_customer", 404, 403, None),
        ("pending_agent", 401, 401, None),  # a pending agent has no token
        ("rejected_agent", 403, 403, "forbidden"),
        ("deleted_agent", 403, 403, None),
    ],
)
async def test_who_may_see_and_repay_an_account(
    client: httpx.AsyncClient,
    settings: Settings,
    nc: Client,
    people: Cast,
    who: str,
    statement_status: int,
    repay_status: int,
    code: str | None,
) -> None:
    """api.md's table: staff and the loan's customer read, admins and approved agents repay; another
    customer learns nothing (404); an agent not approved or no longer active is refused (403)."""
    loan = await open_account(client, settings, people, "20000.00", 3)
    person = getattr(people, who)
    reply = await statement(nc, person, loan["id"])
    assert reply.status == statement_status, reply
    if code is not None:
        assert reply.code == code
    reply = await repay(nc, person, loan["id"], "1.00")
    assert reply.status == repay_status, reply
    if code is not None:
        assert reply.code == code


async def test_an_agent_rejected_after_acting_is_refused_once_the_event_lands(
    client: httpx.AsyncClient, settings: Settings, nc: Client, people: Cast
) -> None:
    """The agents read model follows users events: a revocation stops repayments without a new token."""
    loan = await open_account(client, settings, people, "20000.00", 3)
    assert (await repay(nc, people.other_agent, loan["id"], "1.00")).status == 200
    path = f"/api/user/approve-delete/{people.other_agent.id}"
    response = await client.put(path, json={"is_approved": False}, headers=people.admin.headers)
    assert response.status_code == 200

    async def refused() -> bool:
        reply = await repay(nc, people.other_agent, loan["id"], "1.00")
        assert reply.status == 403, reply
        return True

    await eventually(refused, timeout=2.0, what="the rejection did not reach servicing")


async def test_the_business_date_is_todays_utc_date_to_anyone_signed_in(nc: Client, people: Cast) -> None:
    """servicing.business_date: the date the migration started the schema at (today, UTC)."""
    for person in (people.customer, people.agent, people.admin):
        reply = await call(nc, "servicing.business_date", person)
        assert reply.data == {"business_date": datetime.now(UTC).date().isoformat()}
