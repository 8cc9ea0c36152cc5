"""An admin's say over agents: approving or rejecting one, setting or removing its lending limit,
and deleting it. Each change that writes publishes the agent's user event; a request that changes
nothing writes nothing and publishes nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec

from actors.contracts import users as m
from actors.contracts.errors import BadRequest, NotFound
from actors.runtime import idempotency
from actors.runtime.sql import Statement
from actors.users import queries as q
from actors.users.actor import Ctx, actor, emit_user_event, signed_in_user, to_user
from actors.users.queries import USER_COLUMNS

# A decision, and the limit an approval may set (`keep_limit` false), written only if either
# changes. The row is locked and read in FROM first, so RETURNING can say what the status was
# before (approved/rejected, or only the limit changed) even with a concurrent decision.
set_agent_status = Statement(f"""
UPDATE users SET
    status = :status,
    lending_limit = CASE WHEN :keep_limit::boolean THEN before.old_limit ELSE :lending_limit::numeric END,
    version = version + 1, updated_at = now()
FROM (SELECT id AS agent_id, status AS old_status, lending_limit AS old_limit FROM users
      WHERE id = :id AND role = 'agent' AND deleted_at IS NULL FOR UPDATE) AS before
WHERE users.id = before.agent_id
  AND (before.old_status <> :status
       OR (NOT :keep_limit::boolean AND before.old_limit IS DISTINCT FROM :lending_limit::numeric))
RETURNING {USER_COLUMNS}, before.old_status""")

# A live agent's limit; the same limit again writes nothing (no version, no event).
update_lending_limit = Statement(f"""
UPDATE users SET lending_limit = :lending_limit::numeric, version = version + 1, updated_at = now()
WHERE id = :id AND role = 'agent' AND deleted_at IS NULL
  AND lending_limit IS DISTINCT FROM :lending_limit::numeric
RETURNING {USER_COLUMNS}""")

soft_delete_agent = Statement(f"""
UPDATE users SET deleted_at = now(), version = version + 1, updated_at = now()
WHERE id = :id AND role = 'agent' AND deleted_at IS NULL
RETURNING {USER_COLUMNS}""")


async def _agent_or_error(ctx: Ctx, user_id: uuid.UUID) -> m.User:
    row = await q.live_user.fetchrow(ctx.pool, id=user_id)
    if row is None:
        raise NotFound("no such user")
    if row["role"] != "agent":
        raise BadRequest("the user is not an agent", details={"field": "user_id"})
    return to_user(row)


_LIMIT_CEILING = Decimal("1e12")  # NUMERIC(14,2) holds less
_LIMIT_FIELD = {"field": "lending_limit"}


def checked_limit(value: Decimal | None) -> Decimal | None:
    """A lending limit as given (None: no limit): more than 0, at most two decimals. Never rounded:
    the agent would be held to another sum than the one the admin set."""
    if value is None:
        return None
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or sign or not any(digits):  # NaN, infinity, ≤ 0
        raise BadRequest("lending_limit must be a number more than 0", details=_LIMIT_FIELD)
    extra = -exponent - 2
    if extra > 0 and any(digits[-extra:]):
        raise BadRequest("lending_limit must have at most two decimal places", details=_LIMIT_FIELD)
    if value >= _LIMIT_CEILING:
        raise BadRequest("lending_limit is too large", details=_LIMIT_FIELD)
    return value


@actor.handle("users.decide_agent", m.DecideAgent, roles={"admin"})
async def decide_agent(req: m.DecideAgent, ctx: Ctx) -> m.User:
    """Approve (active; optionally setting the lending limit) or reject an agent; the decision may be
    changed later."""
    await signed_in_user(ctx)
    status = "active" if req.is_approved else "rejected"
    keep_limit = isinstance(req.lending_limit, msgspec.UnsetType)
    if not keep_limit and not req.is_approved:
        raise BadRequest("lending_limit: only an approval sets one", details=_LIMIT_FIELD)
    limit = None if isinstance(req.lending_limit, msgspec.UnsetType) else checked_limit(req.lending_limit)
    claim = idempotency.claim(ctx, req)
    await claim.replay_if_answered(ctx.pool)
    async with ctx.pool.acquire() as con, con.transaction():
        row = await set_agent_status.fetchrow(
            con, id=req.user_id, status=status, keep_limit=keep_limit, lending_limit=limit
        )
        if row is not None:
            if row["old_status"] == status:  # already decided so: only the limit changed
                event = "users.agent.limit_changed"
            else:
                event = "users.agent.approved" if req.is_approved else "users.agent.rejected"
            await emit_user_event(con, ctx.settings, event, row)
            user = to_user(row)
            await claim.store(con, user)
            return user
    return await _agent_or_error(ctx, req.user_id)  # unchanged, or why not


@actor.handle("users.set_lending_limit", m.SetLendingLimit, roles={"admin"})
async def set_lending_limit(req: m.SetLendingLimit, ctx: Ctx) -> m.User:
    """Set an agent's lending limit, or remove it (null); the same limit again changes nothing."""
    await signed_in_user(ctx)
    limit = checked_limit(req.lending_limit)
    claim = idempotency.claim(ctx, req)
    await claim.replay_if_answered(ctx.pool)
    async with ctx.pool.acquire() as con, con.transaction():
        row = await update_lending_limit.fetchrow(con, id=req.user_id, lending_limit=limit)
        if row is not None:
            await emit_user_event(con, ctx.settings, "users.agent.limit_changed", row)
            user = to_user(row)
            await claim.store(con, user)
            return user
    return await _agent_or_error(ctx, req.user_id)  # unchanged, or why not


@actor.handle("users.delete_agent", m.DeleteAgent, roles={"admin"})
async def delete_agent(req: m.DeleteAgent, ctx: Ctx) -> m.User:
    """Soft-delete an agent: the record stays, the agent can no longer log in or act."""
    await signed_in_user(ctx)
    claim = idempotency.claim(ctx, req)
    await claim.replay_if_answered(ctx.pool)
    async with ctx.pool.acquire() as con, con.transaction():
        row = await soft_delete_agent.fetchrow(con, id=req.user_id)
        if row is not None:
            await emit_user_event(con, ctx.settings, "users.agent.deleted", row)
            user = to_user(row)
            await claim.store(con, user)
            return user
    await _agent_or_error(ctx, req.user_id)
    raise NotFound("no such user")  # unreachable in practice: a live agent would have been deleted
