"""The users actor's subject table: every handler module of actors/users/ registers on it (each is
imported once, by actors/users/service.py). Beside it, what those modules share: a user row as a
reply, the caller's own row, and the user event a change publishes."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from actors.bus.tokens import Caller
from actors.contracts import users as m
from actors.contracts.config import Settings
from actors.contracts.errors import Forbidden, Unauthenticated
from actors.runtime.actor import Actor, Context
from actors.runtime.db import Conn
from actors.runtime.events import emit
from actors.users import queries as q
from actors.users.passwords import Passwords
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

for _event_type, _data_type in m.EVENTS.items():
    actor.publishes_event(_event_type, _data_type)


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


async def emit_user_event(con: Conn, settings: Settings, event_type: str, row: asyncpg.Record) -> None:
    """Publish (through the outbox, in the caller's transaction) the user as this change left them."""
    data = m.UserChanged(
        **{f: row[f] for f in m.User.__struct_fields__ if f != "created_at"},
        deleted=event_type == "users.agent.deleted",
    )
    await emit(con, settings, event_type, row["id"], row["version"], data)
