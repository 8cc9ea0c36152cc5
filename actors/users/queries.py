"""SQL of the users schema (search_path is `users`), with named parameters (actors/runtime/sql.py)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from actors.runtime.sql import Statement

USER_COLUMNS = "id, email, first_name, last_name, role, status, created_at, lending_limit, version"

insert_user = Statement(f"""
INSERT INTO users (id, email, password_hash, first_name, last_name, role, status)
VALUES (:id, :email, :password_hash, :first_name, :last_name, :role, :status)
ON CONFLICT (lower(email)) DO NOTHING
RETURNING {USER_COLUMNS}""")

user_for_login = Statement(f"""
SELECT {USER_COLUMNS}, password_hash FROM users
WHERE lower(email) = lower(:email) AND deleted_at IS NULL
  AND disabled_at IS NULL  -- a disabled admin logs in as little as a deleted user (401)""")

live_user = Statement(f"SELECT {USER_COLUMNS} FROM users WHERE id = :id AND deleted_at IS NULL")

account_exists = Statement("SELECT true FROM users WHERE id = :id AND deleted_at IS NULL")

any_user = Statement(f"SELECT {USER_COLUMNS}, deleted_at IS NOT NULL AS deleted FROM users WHERE id = :id")

activity = Statement("""
SELECT type, loan_id, status, version, by_user AS by, occurred_at FROM activity
WHERE user_id = :user_id
-- events one statement wrote (a COB step's) share occurred_at: the later version is newer
ORDER BY occurred_at DESC, version DESC, event_id
LIMIT 20""")


class ActivityRow(NamedTuple):
    """A loan event as one user's activity: insert_activity takes a batch, one array per field."""

    event_id: UUID
    user_id: UUID
    type: str
    loan_id: UUID
    status: str
    version: int
    by_user: UUID | None  # None: no person did it (servicing's close of business)
    occurred_at: datetime


class NotificationRow(NamedTuple):
    """What a customer is told of (actors/users/notifications.py): insert_notifications takes a
    batch, one array per field."""

    id: UUID
    event_id: UUID
    user_id: UUID
    loan_id: UUID
    kind: str
    facts: str  # a JSON object of strings: what actors/users/templates.py fills in


# One statement for a batch of events: each parameter is a column, unnest() zips them into rows.
insert_activity = Statement(
    """
INSERT INTO activity (event_id, user_id, type, loan_id, status, version, by_user, occurred_at)
SELECT * FROM unnest(
    :event_id::uuid[], :user_id::uuid[], :type::text[], :loan_id::uuid[], :status::text[],
    :version::integer[], :by_user::uuid[], :occurred_at::timestamptz[]
)
ON CONFLICT DO NOTHING""",
    ActivityRow,
)

# `event_id` is unique: an event applied twice (its inbox row aside) still tells the customer once.
insert_notifications = Statement(
    """
INSERT INTO notifications (id, event_id, user_id, loan_id, kind, facts)
SELECT * FROM unnest(
    :id::uuid[], :event_id::uuid[], :user_id::uuid[], :loan_id::uuid[], :kind::text[], :facts::jsonb[]
)
ON CONFLICT (event_id) DO NOTHING""",
    NotificationRow,
)

list_notifications = Statement("""
SELECT id, kind, loan_id, facts, created_at, delivered_at, count(*) OVER () AS total
FROM notifications
WHERE user_id = :user_id
ORDER BY created_at DESC, seq DESC
LIMIT :limit OFFSET :offset""")
