"""One's own account: signing up (a customer, an agent, or by an admin another admin), logging in
for a token, and reading one's profile and notifications; and the public keys the tokens are
checked with."""

from __future__ import annotations

import uuid

import msgspec

from actors.contracts import users as m
from actors.contracts.base import Empty
from actors.contracts.config import Settings
from actors.contracts.errors import BadRequest, Conflict, Forbidden, Replay, Unauthenticated
from actors.contracts.roles import ANY_USER
from actors.runtime import idempotency
from actors.runtime.db import Conn
from actors.runtime.paging import fetch_page
from actors.users import legacy_passwords
from actors.users import notifications as notices
from actors.users import queries as q
from actors.users.actor import Ctx, actor, emit_user_event, signed_in_user, to_user
from actors.users.passwords import check_length

BAD_CREDENTIALS = "invalid email or password"
_encode = msgspec.json.Encoder().encode


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


@actor.handle("users.jwks", Empty)
async def jwks(req: Empty, ctx: Ctx) -> bytes:
    """The public keys that verify access tokens (JWKS)."""
    return ctx.state.signing_key.jwks


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
