"""The users actor writes a batch of loan events as activity and notifications in two statements."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from actors.contracts.envelope import Envelope
from actors.contracts.loans import LoanChanged, Status
from actors.runtime.serving import ServingActor
from actors.users import queries as q
from actors.users.loan_activity import record_loan_activity
from tests.support.batches import apply_as_one_batch, envelope

pytestmark = pytest.mark.anyio


def _loan_event(
    event_type: str,
    loan_id: uuid.UUID,
    customer: uuid.UUID,
    agent: uuid.UUID,
    status: Status,
    version: int,
    by: uuid.UUID,
) -> Envelope:
    data = LoanChanged(
        loan_id=loan_id,
        customer_id=customer,
        agent_id=agent,
        status=status,
        principal=Decimal("20000"),
        interest=Decimal("1200"),
        months=6,
        emi=Decimal("3533.33"),
        amount=Decimal("21200"),
        start_date=None,
        end_date=None,
        by=by,
    )
    return envelope(event_type, loan_id, version, data)


async def test_a_batch_of_loan_events_makes_a_row_per_user_and_a_notification_per_decision(
    users_worker: ServingActor[Any],
) -> None:
    """One loan created, edited and approved and another (whose agent is its customer) created and
    rejected, in one batch: an activity row for the customer and one for the agent of each event
    (one when they are the same person), a notification for each decision, and nothing else; one
    INSERT for all the activity and one for the notifications."""
    customer, agent, admin, own = (uuid.uuid4() for _ in range(4))
    loan, own_loan = uuid.uuid4(), uuid.uuid4()
    created = _loan_event("loans.loan.created", loan, customer, agent, "NEW", 1, agent)
    edited = _loan_event("loans.loan.edited", loan, customer, agent, "NEW", 2, agent)
    approved = _loan_event("loans.loan.approved", loan, customer, agent, "APPROVED", 3, admin)
    own_created = _loan_event("loans.loan.created", own_loan, own, own, "NEW", 1, own)
    own_rejected = _loan_event("loans.loan.rejected", own_loan, own, own, "REJECTED", 2, admin)
    events = [created, edited, own_created, approved, own_rejected]

    inserts = await apply_as_one_batch(users_worker, record_loan_activity, events)
    async with users_worker.pool.acquire() as con:
        rows = await con.fetch(
            """SELECT event_id, user_id, type, loan_id, status, version, by_user, occurred_at
               FROM users.activity WHERE event_id = ANY($1::uuid[])""",
            [event.id for event in events],
        )
        notified = await con.fetch(
            "SELECT user_id, loan_id, kind FROM users.notifications WHERE loan_id = ANY($1::uuid[])",
            [loan, own_loan],
        )

    def row(
        event: Envelope, user: uuid.UUID, type_: str, loan_id: uuid.UUID, status: str, by: uuid.UUID
    ) -> Any:
        return (event.id, user, type_, loan_id, status, event.version, by, event.occurred_at)

    assert sorted(tuple(r) for r in rows) == sorted(
        [
            row(created, customer, "loan.created", loan, "NEW", agent),
            row(created, agent, "loan.created", loan, "NEW", agent),
            row(edited, customer, "loan.edited", loan, "NEW", agent),
            row(edited, agent, "loan.edited", loan, "NEW", agent),
            row(approved, customer, "loan.approved", loan, "APPROVED", admin),
            row(approved, agent, "loan.approved", loan, "APPROVED", admin),
            row(own_created, own, "loan.created", own_loan, "NEW", own),
            row(own_rejected, own, "loan.rejected", own_loan, "REJECTED", admin),
        ]
    )
    assert sorted(tuple(n) for n in notified) == sorted(
        [(customer, loan, "loan_approved"), (own, own_loan, "loan_rejected")]
    )
    assert inserts == [q.insert_activity.sql, q.insert_notifications.sql]


async def test_a_batch_without_decisions_writes_no_notifications(users_worker: ServingActor[Any]) -> None:
    """Created and edited only: the activity rows, and no notifications statement at all."""
    customer, agent, loan = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        _loan_event("loans.loan.created", loan, customer, agent, "NEW", 1, agent),
        _loan_event("loans.loan.edited", loan, customer, agent, "NEW", 2, agent),
    ]
    inserts = await apply_as_one_batch(users_worker, record_loan_activity, events)
    count = await users_worker.pool.fetchval(
        "SELECT count(*) FROM users.activity WHERE event_id = ANY($1::uuid[])", [e.id for e in events]
    )
    assert count == 4
    assert inserts == [q.insert_activity.sql]
