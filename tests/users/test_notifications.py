"""Notifications are recorded for a decided loan and for servicing's reminder, overdue installment
and payoff, once per event, for the loan's customer, and listed at GET /api/user/notifications,
newest first, each user only their own (api.md "User")."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.contracts.loans import LoanChanged
from actors.contracts.servicing import AccountChanged
from actors.runtime.serving import ServingActor
from actors.users.loan_activity import record_loan_activity
from actors.users.servicing_activity import record_servicing_activity
from tests.support.batches import apply_as_one_batch, envelope
from tests.support.events import publish
from tests.support.loans import create, decide
from tests.support.people import Person, admin, agent, signup
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio
PATH = "/api/user/notifications"
FIELDS = {"id", "type", "loan_id", "subject", "body", "created_at", "delivered_at"}
# The subjects the customer reads, as the templates are meant to word them.
APPROVED = "Your loan has been approved"
REJECTED = "Your loan application was not approved"
DUE = "A repayment on your loan is due soon"
OVERDUE = "A repayment on your loan is overdue"
CLOSED = "Your loan is paid off"


async def listed(client: httpx.AsyncClient, who: Person, **query: int) -> dict[str, Any]:
    response = await client.get(PATH, params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()  # a list's envelope carries data, count, page, page_size
    return page


async def until_count(client: httpx.AsyncClient, who: Person, count: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]]:
        page = await listed(client, who)
        assert page["count"] == count, page
        items: list[dict[str, Any]] = page["data"]
        return items

    return await eventually(enough, timeout=10, what=f"{who.role} did not get {count} notifications")


async def test_a_customer_lists_only_their_own_notifications_newest_first(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Two decisions on one customer's loans and one on another's: each customer sees their own,
    newest first, with the terms and no name; the agent who requested them sees none; pages work."""
    boss = await admin(client, settings)
    broker = await agent(client, boss)
    ann, bob = await signup(client, "customer"), await signup(client, "customer", first_name="Bob")
    first = await create(client, broker, ann, principal="25000.50", months=12)
    assert (await decide(client, boss, first["id"], "APPROVED")).status_code == 200
    await until_count(client, ann, 1)  # so the second is recorded later
    second = await create(client, broker, ann, principal=40000, months=24)
    assert (await decide(client, boss, second["id"], "REJECTED")).status_code == 200
    theirs = await create(client, broker, bob)
    assert (await decide(client, boss, theirs["id"], "APPROVED")).status_code == 200

    items = await until_count(client, ann, 2)
    assert [(i["type"], i["loan_id"], i["subject"]) for i in items] == [
        ("loan_rejected", second["id"], REJECTED),
        ("loan_approved", first["id"], APPROVED),
    ]
    assert all(set(i) == FIELDS and i["delivered_at"] is None for i in items)  # no SMTP server here
    assert "25000.50" in items[1]["body"] and "12 months" in items[1]["body"]
    assert first["emi"] in items[1]["body"]
    assert "40000.00" in items[0]["body"] and "24 months" in items[0]["body"]
    for item in items:
        assert ann.email not in item["body"] and "Ann" not in item["body"] and "Lee" not in item["body"]
    assert items[0]["created_at"] >= items[1]["created_at"]

    assert [(i["type"], i["loan_id"]) for i in await until_count(client, bob, 1)] == [
        ("loan_approved", theirs["id"])
    ]
    assert (await listed(client, broker))["count"] == 0
    older = await listed(client, ann, page=2, page_size=1)
    assert (older["count"], [i["loan_id"] for i in older["data"]]) == (2, [first["id"]])


async def test_listing_needs_a_token(client: httpx.AsyncClient) -> None:
    """No bearer token → 401."""
    assert (await client.get(PATH)).status_code == 401


def _account_event(
    event_type: str, loan_id: uuid.UUID, customer: Person, broker: Person, **fields: Any
) -> Envelope:
    data = AccountChanged(
        loan_id=loan_id,
        customer_id=uuid.UUID(customer.id),
        agent_id=uuid.UUID(broker.id),
        status="CLOSED" if event_type == "servicing.loan.closed" else "ACTIVE",
        business_date=date(2030, 3, 1),
        outstanding_principal=Decimal("0.00"),
        **fields,
    )
    return envelope(event_type, loan_id, 2, data)


async def test_servicing_reminder_overdue_and_payoff_notify_the_customer(
    client: httpx.AsyncClient,
    nc: Client,
    settings: Settings,
    users_worker: ServingActor[Any],
) -> None:
    """Of six servicing events, the reminder, the overdue installment and the payoff notify the
    loan's customer (not the agent), with the installment, date and amount the event carried."""
    boss = await admin(client, settings)
    customer, broker = await signup(client, "customer"), await agent(client, boss)
    loan = uuid.uuid4()
    events = [
        _account_event(
            "servicing.repayment.due",
            loan,
            customer,
            broker,
            installment=3,
            due_date=date(2030, 3, 4),
            amount=Decimal("1234.5"),
        ),
        _account_event("servicing.repayment.received", loan, customer, broker, amount=Decimal("10")),
        _account_event(
            "servicing.installment.overdue",
            loan,
            customer,
            broker,
            installment=3,
            due_date=date(2030, 3, 4),
            amount=Decimal("1224.50"),
        ),
        _account_event("servicing.loan.delinquency_changed", loan, customer, broker),
        _account_event("servicing.repayment.reversed", loan, customer, broker),
        _account_event("servicing.loan.closed", loan, customer, broker, closed_on=date(2030, 4, 1)),
    ]
    for event in events:
        await publish(nc, settings, event)
    items = await until_count(client, customer, 3)
    assert [(i["type"], i["loan_id"], i["subject"]) for i in items] == [
        ("loan_closed", str(loan), CLOSED),
        ("installment_overdue", str(loan), OVERDUE),
        ("repayment_due", str(loan), DUE),
    ]
    closed, overdue, due = (i["body"] for i in items)
    assert "2030-04-01" in closed
    assert "Installment 3" in overdue and "2030-03-04" in overdue and "1224.50" in overdue
    assert "Installment 3" in due and "2030-03-04" in due and "1234.50" in due
    # the agent's profile shows the events; their notifications stay empty
    profile = await client.get("/api/user/profile", headers=broker.headers)
    assert len(profile.json()["data"]["activity"]) == 6
    assert (await listed(client, broker))["count"] == 0


async def test_an_event_applied_twice_notifies_once(users_worker: ServingActor[Any]) -> None:
    """The handlers applied twice to the same decision and the same overdue installment, past
    the inbox (as a replay would): one notification per event, the second insert a no-op."""
    customer, broker, loan = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    decided = envelope(
        "loans.loan.approved",
        loan,
        2,
        LoanChanged(
            loan_id=loan,
            customer_id=customer,
            agent_id=broker,
            status="APPROVED",
            principal=Decimal("10000.00"),
            interest=Decimal("12.00"),
            months=12,
            emi=Decimal("888.49"),
            amount=Decimal("10661.85"),
            start_date=None,
            end_date=None,
            by=broker,
        ),
    )
    overdue = envelope(
        "servicing.installment.overdue",
        loan,
        3,
        AccountChanged(
            loan_id=loan,
            customer_id=customer,
            agent_id=broker,
            status="ACTIVE",
            business_date=date(2030, 3, 5),
            outstanding_principal=Decimal("10000.00"),
            installment=1,
        ),
    )
    for _ in range(2):
        await apply_as_one_batch(users_worker, record_loan_activity, [decided])
        await apply_as_one_batch(users_worker, record_servicing_activity, [overdue])
    rows = await users_worker.pool.fetch(
        "SELECT event_id, user_id, kind FROM users.notifications WHERE loan_id = $1 ORDER BY kind", loan
    )
    assert [tuple(r) for r in rows] == [
        (overdue.id, customer, "installment_overdue"),
        (decided.id, customer, "loan_approved"),
    ]
