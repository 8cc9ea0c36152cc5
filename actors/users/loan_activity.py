"""Loan events (created, decided, ...) become activity on the profiles of the loan's customer and
agent, as servicing events do (actors/users/servicing_activity.py); a decision also notifies the
customer (actors/users/notifications.py)."""

from __future__ import annotations

from actors.contracts.envelope import Envelope, data_as
from actors.contracts.loans import LoanChanged
from actors.runtime.db import Conn
from actors.users import notifications as notices
from actors.users import queries as q
from actors.users.actor import UsersState, actor


@actor.on_events("users-loan-activity", "loans.>")
async def record_loan_activity(events: list[Envelope], con: Conn, state: UsersState) -> None:
    """Loan events become activity on their customer's and agent's profiles; a decision notifies
    the customer. One statement for the whole batch's activity (and one for its notifications)."""
    activity: list[q.ActivityRow] = []
    notifications: list[q.NotificationRow] = []
    for event in events:
        loan = data_as(event, LoanChanged)
        kind = event.type.removeprefix("loans.")
        for user_id in {loan.customer_id, loan.agent_id}:  # one row if the agent is the customer
            activity.append(
                q.ActivityRow(
                    event_id=event.id,
                    user_id=user_id,
                    type=kind,
                    loan_id=loan.loan_id,
                    status=loan.status,
                    version=event.version,
                    by_user=loan.by,
                    occurred_at=event.occurred_at,
                )
            )
        if (notice := notices.for_loan_event(event, loan)) is not None:
            notifications.append(notice)
    if activity:
        await con.execute(q.insert_activity.sql, *q.insert_activity.columns_of(activity))
    await notices.record(con, notifications)
