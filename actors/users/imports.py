"""`users.import_batch`: users of the Django monolith, written once each (design.md §13).

Ids are uuid5 of the legacy ids (actors/contracts/imports.py), so a batch sent again, after a
kill or a whole rerun, inserts nothing twice: one `INSERT … ON CONFLICT DO NOTHING` for the batch,
and `users.user.registered` only for the rows it really inserted (the loans read model and the
rest follow from those events, as for a signup). The Django hash is stored as it is; the first
login checks it and replaces it by bcrypt (actors/users/legacy_passwords.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import NamedTuple

from actors.contracts import imports as im
from actors.contracts import users as m
from actors.contracts.errors import BadRequest
from actors.runtime.db import Conn
from actors.runtime.events import OutboxRow, outbox_row
from actors.runtime.sql import Statement
from actors.users.actor import Ctx, actor, signed_in_user
from actors.users.queries import USER_COLUMNS


class ImportedRow(NamedTuple):
    id: uuid.UUID
    legacy_id: int
    email: str
    password_hash: str
    first_name: str
    last_name: str
    role: str
    status: str
    created_at: datetime
    deleted_at: datetime | None


# One statement per batch; a row whose id, legacy id or email is taken already is left alone.
_INSERT = Statement(
    f"""
INSERT INTO users (id, legacy_id, email, password_hash, first_name, last_name, role, status,
                   created_at, deleted_at)
SELECT * FROM unnest(:id::uuid[], :legacy_id::bigint[], :email::text[], :password_hash::text[],
                     :first_name::text[], :last_name::text[], :role::text[], :status::text[],
                     :created_at::timestamptz[], :deleted_at::timestamptz[])
ON CONFLICT DO NOTHING
RETURNING {USER_COLUMNS}, legacy_id, deleted_at IS NOT NULL AS deleted""",
    ImportedRow,
)
_PRESENT = Statement("SELECT legacy_id FROM users WHERE id = ANY(:ids::uuid[])")
_INSERT_OUTBOX = Statement(
    """INSERT INTO outbox (id, subject, payload, headers)
SELECT * FROM unnest(:event_id::uuid[], :event_subject::text[], :event_payload::bytea[],
                     :event_headers::jsonb[])""",
    OutboxRow,
)


def _problem(user: im.ImportedUser) -> str | None:
    """Why the users table would refuse this user, or None."""
    email = user.email.strip()
    if not 3 <= len(email) <= 254 or "@" not in email:
        return f"email {user.email!r} is not an address"
    if (why := m.email_problem(email)) is not None:
        return f"email {user.email!r} {why}"
    for name in ("first_name", "last_name"):
        value = getattr(user, name).strip()
        if not 1 <= len(value) <= 100:
            return f"{name} must be 1 to 100 characters"
    if user.role != "agent" and user.status != "active":
        return f"a {user.role} is always active, not {user.status}"
    return None


def _row(user: im.ImportedUser, now: datetime) -> ImportedRow:
    return ImportedRow(
        id=im.legacy_user_id(user.legacy_id),
        legacy_id=user.legacy_id,
        email=user.email.strip(),
        password_hash=user.password_hash,
        first_name=user.first_name.strip(),
        last_name=user.last_name.strip(),
        role=user.role,
        status=user.status,
        created_at=user.created_at,
        deleted_at=now if user.deleted else None,
    )


async def _emit_registered(con: Conn, ctx: Ctx, rows: list[dict[str, object]]) -> None:
    events = []
    for row in rows:
        data = m.UserChanged(**{f: row[f] for f in m.UserChanged.__struct_fields__})  # type: ignore[arg-type]
        user_id = row["id"]
        assert isinstance(user_id, uuid.UUID)
        with outbox_row(ctx.settings, "users.user.registered", user_id, 1, data) as event:
            events.append(event)
    if events:
        await con.execute(_INSERT_OUTBOX.sql, *_INSERT_OUTBOX.columns_of(events))


@actor.handle("users.import_batch", im.ImportUsers, roles={"admin"})
async def import_users(req: im.ImportUsers, ctx: Ctx) -> im.ImportReply:
    """Write a batch of the monolith's users once each (ids from their legacy ids), with their events."""
    await signed_in_user(ctx)
    if len(req.users) > im.MAX_BATCH:
        raise BadRequest(f"users: at most {im.MAX_BATCH} a batch", details={"field": "users"})
    now = datetime.now(UTC)
    refused: list[im.Refused] = []
    rows: list[ImportedRow] = []
    for user in req.users:
        problem = _problem(user)
        if problem is None:
            rows.append(_row(user, now))
        else:
            refused.append(im.Refused(legacy_id=user.legacy_id, reason=problem))
    async with ctx.pool.acquire() as con, con.transaction():
        written = [dict(r) for r in await con.fetch(_INSERT.sql, *_INSERT.columns_of(rows))]
        await _emit_registered(con, ctx, written)
        inserted = {int(str(r["legacy_id"])) for r in written}
        present = {
            r["legacy_id"]
            for r in await _PRESENT.fetch(con, ids=[row.id for row in rows])
            if r["legacy_id"] not in inserted
        }
    for row in rows:
        if row.legacy_id not in inserted and row.legacy_id not in present:
            refused.append(im.Refused(legacy_id=row.legacy_id, reason=f"email {row.email} is taken"))
    return im.ImportReply(inserted=sorted(inserted), present=sorted(present), refused=refused)
