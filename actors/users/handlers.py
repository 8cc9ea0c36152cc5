"""The `users.*` subjects: one plain async function each, registered in the actor's table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

from actors.bus.tokens import Caller
from actors.contracts import users as m
from actors.contracts.base import Empty
from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope, data_as
from actors.contracts.errors import BadRequest, Conflict, Forbidden, NotFound, Replay, Unauthenticated
from actors.contracts.loans import LoanChanged
from actors.contracts.roles import ANY_USER
from actors.runtime import idempotency
from actors.runtime.actor import Actor, Context
from actors.runtime.db import Conn
from actors.runtime.events import emit
from actors.runtime.paging import fetch_page
from actors.runtime.sql import Statement
from actors.users import legacy_passwords
from actors.users import notifications as notices
from actors.users import queries as q
from actors.users.passwords import Passwords, check_length
from actors.users.signing import SigningKey


@dataclass(frozen=True)
class UsersState:
    signing_key: SigningKey
    passwords: Passwords
    token_ttl: int


actor: Actor[UsersState] = Actor("users", description="Users, roles, agent approval and login tokens")
Ctx = Context[UsersState]


async def account_exists(caller: Caller, pool: asyncpg.Pool) -> None:
    """A token outlives a deleted account: from deletion on it is 401 on every users subject."""
    if not await q.account_exists.fetchval(pool, id=caller.id):
        raise Unauthenticated("the account no longer exists")


actor.account_check = account_exists
BAD_CREDENTIALS = "invalid email or password"
_encode = msgspec.json.Encoder().encode


def to_user(row: asyncpg.Record) -> m.User:
    return m.User(
        id=row["id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        role=row["role"],
        status=row["status"],
        created_at=row["created_at"],
        lending_limit=row["lending_limit"],
    )


async def user_page(
    ctx: Ctx, query: Statement, values: dict[str, Any], *, page: int, page_size: int
) -> m.UserPage:
    rows, total = await fetch_page(ctx.pool, query, values, page=page, page_size=page_size)
    return m.UserPage(data=[to_user(r) for r in rows], count=total, page=page, page_size=page_size)


def clean_names(first: str, last: str) -> tuple[str, str]:
    first, last = first.strip(), last.strip()
    for field, value in (("first_name", first), ("last_name", last)):
        if not value:
            raise BadRequest(f"{field}: must not be blank", details={"field": field})
    return first, last


def check_email(email: str) -> str:
    """`email`, or 400 if it holds invisible, direction-changing or look-alike characters."""
    if (problem := m.email_problem(email)) is not None:
        raise BadRequest(f"email: {problem}", details={"field": "email"})
    return email


async def emit_user_event(con: Conn, settings: Settings, event_type: str, row: asyncpg.Record) -> None:
    """Publish (through the outbox, in the caller's transaction) the user as this change left them."""
    data = m.UserChanged(
        **{f: row[f] for f in m.User.__struct_fields__ if f != "created_at"},
        deleted=event_type == "users.agent.deleted",
    )
    await emit(con, settings, event_type, row["id"], row["version"], data)


async def insert_user(
    con: Conn, settings: Settings, req: m.Signup | m.CreateAdmin, hashed: str, role: str, status: str
) -> m.User:
    """Insert a user and its `users.user.registered` event, in the caller's transaction; a taken
    email is 409."""
    first, last = clean_names(req.first_name, req.last_name)
    email = check_email(req.email.strip())
    row = await q.insert_user.fetchrow(
        con,
        id=uuid.uuid4(),
        email=email,
        password_hash=hashed,
        first_name=first,
        last_name=last,
        role=role,
        status=status,
    )
    if row is None:
        raise Conflict("a user with this email already exists", code="email_taken")
    await emit_user_event(con, settings, "users.user.registered", row)
    return to_user(row)


async def _password_hash(ctx: Ctx, req: m.Signup | m.CreateAdmin, claim: idempotency.Claim) -> str:
    """The new user's password hash, spent only on a request that needs one: password and names
    checked, and a repeat answered under its key replayed, before bcrypt runs."""
    raw = check_length(req.password)
    clean_names(req.first_name, req.last_name)
    check_email(req.email.strip())
    await claim.replay_if_answered(ctx.pool)
    return await ctx.state.passwords.hash(raw)


async def signed_in_user(ctx: Ctx) -> m.User:
    """The caller's own row: a deleted user's token stops working, an unapproved agent can't act."""
    row = await q.live_user.fetchrow(ctx.pool, id=ctx.user.id)
    if row is None:
        raise Unauthenticated("the account no longer exists")
    user = to_user(row)
    if user.role == "agent" and user.status == "pending":
        raise Forbidden("the agent is waiting for an admin's approval", code="agent_not_approved")
    if user.role == "agent" and user.status == "rejected":
        raise Forbidden("the agent has been rejected")
    return user


@actor.handle("users.signup", m.Signup)
async def signup(req: m.Signup, ctx: Ctx) -> m.SignupReply:
    """Sign up a customer (active, with a token) or an agent (pending, no token until approved)."""
    status = "active" if req.role == "customer" else "pending"
    claim = idempotency.claim(ctx, req)
    try:
        hashed = await _password_hash(ctx, req, claim)
        # Outside the transaction: an email taken by this very request, still running when this
        # retry began, is answered from its stored answer once that has committed.
        async with claim.replaying_refusals(ctx.pool), ctx.pool.acquire() as con, con.transaction():
            user = await insert_user(con, ctx.settings, req, hashed, req.role, status)
            reply = _signup_reply(ctx, user)
            # Stored for 24 h: without the token, which must not sit in a table that long.
            await claim.store(con, msgspec.structs.replace(reply, access_token=None, expires_in=None))
    except Replay as replay:
        raise Replay(await _replayed_signup(ctx, replay.reply)) from None
    return reply


async def _replayed_signup(ctx: Ctx, stored: bytes) -> bytes:
    """A repeated signup (same key, same body, password included: as good as a login) gets the
    stored answer with a fresh token, if the user is still an active account; else none."""
    answer = msgspec.json.decode(stored, type=m.SignupReply)
    row = await q.live_user.fetchrow(ctx.pool, id=answer.user.id)
    if row is None or row["status"] != "active":
        return stored
    token = ctx.state.signing_key.issue(answer.user.id, answer.user.role, ctx.state.token_ttl)
    return _encode(msgspec.structs.replace(answer, access_token=token, expires_in=ctx.state.token_ttl))


def _signup_reply(ctx: Ctx, user: m.User) -> m.SignupReply:
    """A customer gets a token at once; an agent gets none until an admin approves them."""
    if user.status != "active":
        return m.SignupReply(user=user, access_token=None, expires_in=None)
    token = ctx.state.signing_key.issue(user.id, user.role, ctx.state.token_ttl)
    return m.SignupReply(user=user, access_token=token, expires_in=ctx.state.token_ttl)


@actor.handle("users.login", m.Login)
async def login(req: m.Login, ctx: Ctx) -> m.LoginReply:
    """Exchange email and password for a token; unknown email and wrong password look the same."""
    row = await q.user_for_login.fetchrow(ctx.pool, email=req.email.strip())
    ok = await ctx.state.passwords.check(req.password.encode(), row["password_hash"] if row else None)
    if row is None or not ok:
        raise Unauthenticated(BAD_CREDENTIALS)
    if legacy_passwords.is_legacy(row["password_hash"]):  # the monolith's hash: bcrypt from now on
        raw = req.password.encode()
        await legacy_passwords.replace_with_bcrypt(
            ctx.pool, ctx.state.passwords.hash, row["id"], row["password_hash"], raw
        )
    user = to_user(row)
    if user.status == "pending":
        raise Forbidden("the agent is waiting for an admin's approval", code="agent_not_approved")
    if user.status == "rejected":
        raise Forbidden("the agent has been rejected")
    token = ctx.state.signing_key.issue(user.id, user.role, ctx.state.token_ttl)
    return m.LoginReply(access_token=token, expires_in=ctx.state.token_ttl, user=user)


@actor.handle("users.profile", Empty, roles=ANY_USER)
async def profile(req: Empty, ctx: Ctx) -> m.Profile:
    """The caller's own user, with the newest activity on their loans."""
    user = await signed_in_user(ctx)
    rows = await q.activity.fetch(ctx.pool, user_id=user.id)
    activity = [m.Activity(**dict(row)) for row in rows]
    return m.Profile(**{f: getattr(user, f) for f in m.User.__struct_fields__}, activity=activity)


@actor.handle("users.create_admin", m.CreateAdmin, roles={"admin"})
async def create_admin(req: m.CreateAdmin, ctx: Ctx) -> m.User:
    """Make another admin (only an admin may)."""
    await signed_in_user(ctx)
    claim = idempotency.claim(ctx, req)
    hashed = await _password_hash(ctx, req, claim)
    async with claim.replaying_refusals(ctx.pool), ctx.pool.acquire() as con, con.transaction():
        admin = await insert_user(con, ctx.settings, req, hashed, "admin", "active")
        await claim.store(con, admin)
    return admin


@actor.handle("users.list_customers", m.ListCustomers, roles={"admin", "agent"})
async def list_customers(req: m.ListCustomers, ctx: Ctx) -> m.UserPage:
    """Active customers, newest first, optionally matching `q` in email or name."""
    await signed_in_user(ctx)
    pattern = None
    if req.q and req.q.strip():
        escaped = req.q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    values = {"pattern": pattern}
    return await user_page(ctx, q.list_customers, values, page=req.page, page_size=req.page_size)


@actor.handle("users.list_users", m.ListUsers, roles={"admin"})
async def list_users(req: m.ListUsers, ctx: Ctx) -> m.UserPage:
    """Customers and agents, newest first, by role and status."""
    await signed_in_user(ctx)
    values = {"role": req.role, "status": req.status}
    return await user_page(ctx, q.list_users, values, page=req.page, page_size=req.page_size)


@actor.handle("users.list_approvals", m.ListApprovals, roles={"admin"})
async def list_approvals(req: m.ListApprovals, ctx: Ctx) -> m.UserPage:
    """Agents waiting for a decision, oldest first."""
    await signed_in_user(ctx)
    return await user_page(ctx, q.list_pending_agents, {}, page=req.page, page_size=req.page_size)


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
        row = await q.set_agent_status.fetchrow(
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
        row = await q.set_lending_limit.fetchrow(con, id=req.user_id, lending_limit=limit)
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
        row = await q.delete_agent.fetchrow(con, id=req.user_id)
        if row is not None:
            await emit_user_event(con, ctx.settings, "users.agent.deleted", row)
            user = to_user(row)
            await claim.store(con, user)
            return user
    await _agent_or_error(ctx, req.user_id)
    raise NotFound("no such user")  # unreachable in practice: a live agent would have been deleted


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


@actor.handle("users.jwks", Empty)
async def jwks(req: Empty, ctx: Ctx) -> bytes:
    """The public keys that verify access tokens (JWKS)."""
    return ctx.state.signing_key.jwks


for _event_type, _data_type in m.EVENTS.items():
    actor.publishes_event(_event_type, _data_type)


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


@actor.handle("users.list_notifications", m.ListNotifications, roles=ANY_USER)
async def list_notifications(req: m.ListNotifications, ctx: Ctx) -> m.NotificationPage:
    """The caller's own notifications, newest first, each with when it was mailed."""
    user = await signed_in_user(ctx)
    values = {"user_id": user.id}
    rows, total = await fetch_page(
        ctx.pool, q.list_notifications, values, page=req.page, page_size=req.page_size
    )
    data = [notices.to_notification(r) for r in rows]
    return m.NotificationPage(data=data, count=total, page=req.page, page_size=req.page_size)
