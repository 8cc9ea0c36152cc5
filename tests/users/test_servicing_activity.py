"""Servicing events published on the run's stream become activity on the loan's customer's and
agent's profiles, once each, whoever (or nothing, for close of business) caused them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.contracts.servicing import AccountChanged, AccountStatus
from actors.runtime.serving import ServingActor
from tests.support.batches import envelope
from tests.support.events import publish
from tests.support.people import Person, admin, agent, signup
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio


def _account_event(
    event_type: str,
    loan_id: uuid.UUID,
    parties: tuple[Person, Person],
    status: AccountStatus,
    version: int,
    by: Person | None,
) -> Envelope:
    customer, broker = parties
    data = AccountChanged(
        loan_id=loan_id,
        customer_id=uuid.UUID(customer.id),
        agent_id=uuid.UUID(broker.id),
        status=status,
        business_date=date(2030, 1, 31),
        outstanding_principal=Decimal("9000.00"),
        by=uuid.UUID(by.id) if by is not None else None,
    )
    return envelope(event_type, loan_id, version, data)


async def _activity(client: httpx.AsyncClient, person: Person) -> list[dict[str, Any]]:
    response = await client.get("/api/user/profile", headers=person.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]["activity"]
    return rows


def _row(event: Envelope, type_: str, status: str, by: Person | None) -> dict[str, Any]:
    """An activity entry as api.md shows it, written out from the event (not by the code under test)."""
    return {
        "type": type_,
        "loan_id": str(event.aggregate_id),
        "status": status,
        "version": event.version,
        "by": by.id if by is not None else None,
        "occurred_at": event.occurred_at,
    }


async def _until_shown(client: httpx.AsyncClient, person: Person, expected: list[dict[str, Any]]) -> None:
    """Wait until `person`'s profile activity is exactly `expected`."""

    async def shown() -> bool:
        rows = await _activity(client, person)
        assert [{**r, "occurred_at": datetime.fromisoformat(r["occurred_at"])} for r in rows] == expected
        return True

    await eventually(shown, timeout=10, what=f"the {person.role}'s profile did not show the events")


@pytest.fixture
async def pair(client: httpx.AsyncClient, settings: Settings) -> tuple[Person, Person]:
    """A fresh customer and a fresh approved agent (their profiles hold nothing yet)."""
    boss = await admin(client, settings)
    return await signup(client, "customer"), await agent(client, boss)


async def test_servicing_events_show_on_both_profiles_newest_first(
    client: httpx.AsyncClient,
    nc: Client,
    settings: Settings,
    users_worker: ServingActor[Any],
    pair: tuple[Person, Person],
) -> None:
    """A repayment (by the agent), an overdue installment and a delinquency change (by COB, so
    `by` null) and the closing repayment: each on the customer's and the agent's profile with the
    account's status and version, newest first."""
    customer, broker = pair
    loan = uuid.uuid4()
    events = [
        _account_event("servicing.repayment.received", loan, pair, "ACTIVE", 2, broker),
        _account_event("servicing.installment.overdue", loan, pair, "ACTIVE", 3, None),
        _account_event("servicing.loan.delinquency_changed", loan, pair, "ACTIVE", 3, None),
        _account_event("servicing.loan.closed", loan, pair, "CLOSED", 4, broker),
    ]
    for event in events:
        await publish(nc, settings, event)
    expected = [
        _row(events[3], "loan.closed", "CLOSED", broker),
        _row(events[2], "loan.delinquency_changed", "ACTIVE", None),
        _row(events[1], "installment.overdue", "ACTIVE", None),
        _row(events[0], "repayment.received", "ACTIVE", broker),
    ]
    for person in (customer, broker):
        await _until_shown(client, person, expected)


async def test_a_redelivered_servicing_event_is_applied_once(
    client: httpx.AsyncClient,
    nc: Client,
    settings: Settings,
    users_worker: ServingActor[Any],
    pair: tuple[Person, Person],
) -> None:
    """The same event published again under another message id (JetStream cannot drop it as a
    duplicate): still one activity row per person."""
    customer, broker = pair
    loan = uuid.uuid4()
    reversed_ = _account_event("servicing.repayment.reversed", loan, pair, "ACTIVE", 3, None)
    await publish(nc, settings, reversed_)
    await publish(nc, settings, reversed_, msg_id=f"again-{reversed_.id}")
    # a later event, taken after the repeat by the same consumer: once it shows, the repeat was handled
    later = _account_event("servicing.repayment.due", loan, pair, "ACTIVE", 4, None)
    await publish(nc, settings, later)
    expected = [
        _row(later, "repayment.due", "ACTIVE", None),
        _row(reversed_, "repayment.reversed", "ACTIVE", None),
    ]
    for person in (customer, broker):
        await _until_shown(client, person, expected)
    rows = await users_worker.pool.fetchval(
        "SELECT count(*) FROM users.activity WHERE event_id = $1", reversed_.id
    )
    assert rows == 2
