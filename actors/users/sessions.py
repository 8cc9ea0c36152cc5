"""Ending sessions before their tokens expire (issue 12 M6): logout, password change, disabled admins.

Each revocation is written here first (the users schema is the truth: `revoked_tokens`, and
`users.tokens_valid_after` / `users.disabled_at`), then announced on `users.revocations.changed`
for the other components' denylists (actors/bus/revocations.py); `users.revocations` answers the
whole current list to one that starts or missed an announcement. The users actor itself checks
the schema on every call (`token_in_force`), so it needs no announcement of its own.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime

import asyncpg
import msgspec

from actors.bus.revocations import epoch_ms, issued_before
from actors.bus.tokens import Caller
from actors.contracts import sessions as s
from actors.contracts.base import Empty
from actors.contracts.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthenticated
from actors.contracts.roles import ANY_USER
from actors.runtime.sql import Statement
from actors.users.actor import Ctx, actor, signed_in_user, to_user
from actors.users.passwords import check_length
from actors.users.queries import USER_COLUMNS

log = logging.getLogger("actors.users.sessions")
_encode = msgspec.json.Encoder().encode

token_standing = Statement("""
SELECT tokens_valid_after, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = :jti) AS revoked
FROM users WHERE id = :id AND deleted_at IS NULL""")

revoke_token = Statement("""
INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES (:jti, :user_id, :expires_at)
ON CONFLICT (jti) DO NOTHING""")

# Rows that refuse nothing any more (their tokens have expired), dropped as logouts come.
forget_expired = Statement("DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 minute'")

password_of = Statement(
    "SELECT password_hash FROM users WHERE id = :id AND deleted_at IS NULL AND disabled_at IS NULL"
)

set_password = Statement("""
UPDATE users SET password_hash = :password_hash, tokens_valid_after = :moment,
    version = version + 1, updated_at = now()
WHERE id = :id AND deleted_at IS NULL""")

admin_for_update = Statement(f"""
SELECT {USER_COLUMNS}, disabled_at FROM users WHERE id = :id AND deleted_at IS NULL FOR UPDATE""")

other_active_admins = Statement("""
SELECT count(*) FROM users
WHERE role = 'admin' AND deleted_at IS NULL AND disabled_at IS NULL AND id <> :id""")

set_disabled = Statement(f"""
UPDATE users SET disabled_at = :disabled_at,
    tokens_valid_after = CASE WHEN :disabled_at::timestamptz IS NULL THEN tokens_valid_after
                              ELSE greatest(tokens_valid_after, :disabled_at::timestamptz) END,
    version = version + 1, updated_at = now()
WHERE id = :id
RETURNING {USER_COLUMNS}, disabled_at""")

tokens_in_force = Statement("SELECT jti, user_id, expires_at FROM revoked_tokens WHERE expires_at > now()")

users_in_force = Statement("""
SELECT id AS user_id, tokens_valid_after AS tokens_before FROM users
WHERE tokens_valid_after > now() - make_interval(secs => :ttl)""")

# Serialises disabling admins: two admins disabling each other at once must not leave none.
_ADMINS_LOCK = "SELECT pg_advisory_xact_lock(hashtext('users.disable_admin'))"


def _now_ms() -> datetime:
    """Now, rounded down to the millisecond, as tokens' `iat` is (actors/users/signing.py)."""
    return datetime.fromtimestamp(math.floor(time.time() * 1000) / 1000, UTC)


async def token_in_force(caller: Caller, pool: asyncpg.Pool) -> None:
    """401 unless the caller's account exists and their token was neither logged out nor issued
    before a password change or their disabling: checked on every users subject that needs a token."""
    row = await token_standing.fetchrow(pool, id=caller.id, jti=caller.token_id)
    if row is None:
        raise Unauthenticated("the account no longer exists")
    before = row["tokens_valid_after"]
    if row["revoked"] or (
        before is not None and issued_before(caller.issued_at, epoch_ms(before.timestamp()))
    ):
        raise Unauthenticated("the token has been revoked")


actor.account_check = token_in_force


async def announce(ctx: Ctx, revocations: s.Revocations) -> None:
    """Tell every component now; one that misses it catches up from `users.revocations`."""
    try:
        await ctx.nc.publish(s.REVOCATIONS_CHANGED, _encode(revocations))
        await ctx.nc.flush(timeout=1)
    except Exception:  # committed already: the periodic catch-up delivers it
        log.warning("revocation announcement failed; components catch up later", exc_info=True)


@actor.handle("users.logout", Empty, roles=ANY_USER)
async def logout(req: Empty, ctx: Ctx) -> s.LoggedOut:
    """Refuse the caller's token (its jti) everywhere from now until it expires."""
    caller = ctx.user
    expires = datetime.fromtimestamp(caller.expires_at, UTC)
    async with ctx.pool.acquire() as con, con.transaction():
        await revoke_token.execute(con, jti=caller.token_id, user_id=caller.id, expires_at=expires)
        await forget_expired.execute(con)
    token = s.RevokedToken(jti=caller.token_id, user_id=caller.id, expires_at=expires)
    await announce(ctx, s.Revocations(tokens=[token]))
    return s.LoggedOut(jti=caller.token_id, expires_at=expires)


@actor.handle("users.change_password", s.ChangePassword, roles=ANY_USER)
async def change_password(req: s.ChangePassword, ctx: Ctx) -> s.PasswordChanged:
    """Set a new password (the current one must be given): every older token of the user is
    refused; the reply carries a fresh one."""
    user = await signed_in_user(ctx)
    try:
        new = check_length(req.new_password)
    except BadRequest:
        raise BadRequest(
            "new_password: must be 8 to 72 bytes long", details={"field": "new_password"}
        ) from None
    hashed = await password_of.fetchval(ctx.pool, id=user.id)
    if hashed is None:
        raise Unauthenticated("the account no longer exists")
    if not await ctx.state.passwords.check(req.current_password.encode(), hashed):
        raise Forbidden("the current password is wrong", code="wrong_password")
    new_hash = await ctx.state.passwords.hash(new)
    moment = _now_ms()
    await set_password.execute(ctx.pool, id=user.id, password_hash=new_hash, moment=moment)
    await announce(ctx, s.Revocations(users=[s.RevokedUser(user_id=user.id, tokens_before=moment)]))
    token = ctx.state.signing_key.issue(user.id, user.role, ctx.state.token_ttl)  # after `moment`
    return s.PasswordChanged(access_token=token, expires_in=ctx.state.token_ttl)


@actor.handle("users.set_admin_disabled", s.SetAdminDisabled, roles={"admin"})
async def set_admin_disabled(req: s.SetAdminDisabled, ctx: Ctx) -> s.AdminStatus:
    """Disable an admin (they cannot log in; their tokens are refused) or enable them again; the
    last active admin cannot be disabled (409 last_admin)."""
    await signed_in_user(ctx)
    moment = _now_ms()
    async with ctx.pool.acquire() as con, con.transaction():
        await con.execute(_ADMINS_LOCK)
        row = await admin_for_update.fetchrow(con, id=req.user_id)
        if row is None:
            raise NotFound("no such user")
        if row["role"] != "admin":
            raise BadRequest("the user is not an admin", details={"field": "user_id"})
        changes = req.disabled != (row["disabled_at"] is not None)
        if changes and req.disabled and not await other_active_admins.fetchval(con, id=req.user_id):
            raise Conflict("the last active admin cannot be disabled", code="last_admin")
        if changes:
            row = await set_disabled.fetchrow(
                con, id=req.user_id, disabled_at=moment if req.disabled else None
            )
            assert row is not None  # locked above
    if changes and req.disabled:
        await announce(ctx, s.Revocations(users=[s.RevokedUser(user_id=req.user_id, tokens_before=moment)]))
    return s.AdminStatus(
        user=to_user(row), disabled=row["disabled_at"] is not None, disabled_at=row["disabled_at"]
    )


@actor.handle("users.revocations", Empty)
async def revocations(req: Empty, ctx: Ctx) -> s.Revocations:
    """The revocations in force: logged-out tokens not yet expired, and users whose tokens issued
    before a moment within the longest token life are refused."""
    tokens = await tokens_in_force.fetch(ctx.pool)
    users = await users_in_force.fetch(ctx.pool, ttl=float(ctx.state.token_ttl))
    return s.Revocations(
        tokens=[s.RevokedToken(**dict(r)) for r in tokens], users=[s.RevokedUser(**dict(r)) for r in users]
    )
