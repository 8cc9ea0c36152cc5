"""Finding users: the pages staff list (customers, users by role and status, agents awaiting
approval), and one user by id for the other actors."""

from __future__ import annotations

from typing import Any

from actors.contracts import users as m
from actors.contracts.errors import NotFound
from actors.contracts.roles import ANY_USER
from actors.runtime.paging import fetch_page
from actors.runtime.sql import Statement
from actors.users import queries as q
from actors.users.actor import Ctx, actor, signed_in_user, to_user
from actors.users.queries import USER_COLUMNS

# One query per page with its total: count(*) OVER () rides along with each row.
active_customers = Statement(f"""
SELECT {USER_COLUMNS}, count(*) OVER () AS total FROM users
WHERE role = 'customer' AND status = 'active' AND deleted_at IS NULL
  AND (:pattern::text IS NULL
       OR lower(email) LIKE :pattern ESCAPE '\\'
       OR lower(first_name || ' ' || last_name) LIKE :pattern ESCAPE '\\')
ORDER BY created_at DESC, id DESC
LIMIT :limit OFFSET :offset""")

customers_and_agents = Statement(f"""
SELECT {USER_COLUMNS}, count(*) OVER () AS total FROM users
WHERE role IN ('customer', 'agent') AND deleted_at IS NULL
  AND (:role::text IS NULL OR role = :role)
  AND (:status::text IS NULL OR status = :status)
ORDER BY created_at DESC, id DESC
LIMIT :limit OFFSET :offset""")

pending_agents = Statement(f"""
SELECT {USER_COLUMNS}, count(*) OVER () AS total FROM users
WHERE role = 'agent' AND status = 'pending' AND deleted_at IS NULL
ORDER BY created_at ASC, id ASC
LIMIT :limit OFFSET :offset""")


async def user_page(
    ctx: Ctx, query: Statement, values: dict[str, Any], *, page: int, page_size: int
) -> m.UserPage:
    rows, total = await fetch_page(ctx.pool, query, values, page=page, page_size=page_size)
    return m.UserPage(data=[to_user(r) for r in rows], count=total, page=page, page_size=page_size)


@actor.handle("users.list_customers", m.ListCustomers, roles={"admin", "agent"})
async def list_customers(req: m.ListCustomers, ctx: Ctx) -> m.UserPage:
    """Active customers, newest first, optionally matching `q` in email or name."""
    await signed_in_user(ctx)
    pattern = None
    if req.q and req.q.strip():
        escaped = req.q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    values = {"pattern": pattern}
    return await user_page(ctx, active_customers, values, page=req.page, page_size=req.page_size)


@actor.handle("users.list_users", m.ListUsers, roles={"admin"})
async def list_users(req: m.ListUsers, ctx: Ctx) -> m.UserPage:
    """Customers and agents, newest first, by role and status."""
    await signed_in_user(ctx)
    values = {"role": req.role, "status": req.status}
    return await user_page(ctx, customers_and_agents, values, page=req.page, page_size=req.page_size)


@actor.handle("users.list_approvals", m.ListApprovals, roles={"admin"})
async def list_approvals(req: m.ListApprovals, ctx: Ctx) -> m.UserPage:
    """Agents waiting for a decision, oldest first."""
    await signed_in_user(ctx)
    return await user_page(ctx, pending_agents, {}, page=req.page, page_size=req.page_size)


@actor.handle("users.get", m.GetUser, roles=ANY_USER)
async def get_user(req: m.GetUser, ctx: Ctx) -> m.UserRecord:
    """One user by id, for other actors: admins and agents see anyone, others only themselves."""
    if ctx.user.role == "customer" and req.user_id != ctx.user.id:
        raise NotFound("no such user")
    row = await q.any_user.fetchrow(ctx.pool, id=req.user_id)
    if row is None:
        raise NotFound("no such user")
    fields: dict[str, Any] = {f: row[f] for f in m.User.__struct_fields__}
    return m.UserRecord(**fields, deleted=row["deleted"], version=row["version"])
