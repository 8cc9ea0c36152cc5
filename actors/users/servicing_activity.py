"""Servicing events (repayments, reversals, overdue installments, reminders, delinquency, closure)
become activity on the profiles of the loan's customer and agent, as loan events do; a reminder,
an overdue installment and the payoff also notify the customer (actors/users/notifications.py)."""

from __future__ import annotations

from actors.contracts.envelope import Envelope, data_as
from actors.contracts.servicing import AccountChanged
from actors.runtime.db import Conn
from actors.users import notifications as notices
from actors.users import queries as q
from actors.users.actor import UsersState, actor


@actor.on_events("users-servicing-activity", "servicing.>")
async def record_servicing_activity(events: list[Envelope], con: Conn, state: UsersState) -> None:
    """One activity row per event and person (one if the agent is the customer), in one statement:
    `status` is the account's (ACTIVE, CLOSED), `by` null for what close of business did; one
    statement more for the batch's notifications, if it has any."""
    activity: list[q.ActivityRow] = []
    notifications: list[q.NotificationRow] = []
    for event in events:
        account = data_as(event, AccountChanged)
        kind = event.type.removeprefix("servicing.")  # as loan events drop "loans."
        for user_id in {account.customer_id, account.agent_id}:
            activity.append(
                q.ActivityRow(
                    event_id=event.id,
                    user_id=user_id,
                    type=kind,
                    loan_id=account.loan_id,
                    status=account.status,
                    version=event.version,
                    by_user=account.by,
                    occurred_at=event.occurred_at,
                )
            )
        if (notice := notices.for_servicing_event(event, account)) is not None:
            notifications.append(notice)
    if activity:
        await con.execute(q.insert_activity.sql, *q.insert_activity.columns_of(activity))
    await notices.record(con, notifications)
