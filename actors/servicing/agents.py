"""Who may act as an agent here: servicing's own copy of the agents' standing.

The `agents` table is fed by the users actor's events (`users.>`; only agents are kept), so an
approval, rejection or deletion takes effect on repayments as soon as its event lands. An agent
not in it yet, or not active in it (the approval may be on its way), is asked of the users actor
with `users.get` and written in; each row keeps the user's version, so an older event never
overwrites a newer state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID

import msgspec

from actors.bus.client import NO_RESPONDERS, OK, TIMEOUT, UNAVAILABLE, exchange
from actors.contracts.envelope import Envelope, data_as
from actors.contracts.errors import Forbidden, Unavailable
from actors.contracts.users import UserChanged, UserRecord
from actors.runtime.db import Conn
from actors.runtime.sql import Db, Statement
from actors.runtime.versions import in_rounds
from actors.servicing.actor import Ctx, ServicingState, actor

log = logging.getLogger("actors.servicing.agents")

_decode_user = msgspec.json.Decoder(UserRecord).decode
_LOOKUP_TIMEOUT = 2.0
_NOT_ANSWERING = frozenset({NO_RESPONDERS, TIMEOUT, UNAVAILABLE})


class Standing(msgspec.Struct, frozen=True, kw_only=True):
    """An agent as servicing knows them."""

    id: UUID
    status: str
    deleted: bool

    @property
    def acting(self) -> bool:
        return self.status == "active" and not self.deleted


# Event versions are trusted only so far (as actors/loans/parties.py does): out of 1..2^31-1
# (int4, what the users actor's versions are) an event is dropped, not failing its whole batch;
# one more than MAX_VERSION_JUMP past the stored version is not applied, so a forged huge version
# cannot freeze an agent's row against the real changes after it (a revocation, say).
MAX_VERSION = 2**31 - 1
MAX_VERSION_JUMP = 1000

_GET = Statement("SELECT id, status, deleted FROM agents WHERE id = :id")
# A batch in one statement; ORDER BY id: two workers sharing agents lock them in the same order.
_UPSERT = """
INSERT INTO agents (id, status, deleted, version)
SELECT * FROM unnest(:ids::uuid[], :statuses::text[], :deleted::boolean[], :versions::integer[])
ORDER BY 1
ON CONFLICT (id) DO UPDATE SET
    status = EXCLUDED.status, deleted = EXCLUDED.deleted, version = EXCLUDED.version, updated_at = now()
WHERE agents.version < EXCLUDED.version"""
_FROM_ANSWER = Statement(_UPSERT)  # users.get: the users actor's own word
_FROM_EVENTS = Statement(_UPSERT + f" AND EXCLUDED.version <= agents.version + {MAX_VERSION_JUMP}")


async def remember(db: Db, agents: Iterable[tuple[Standing, int]], *, from_events: bool = True) -> None:
    """Write the agents' versions given: one statement a round, each agent's versions oldest first
    (actors/runtime/versions.py: a refused far-future version must not hide a real one)."""
    changes = []
    for agent, version in agents:
        if not 1 <= version <= MAX_VERSION:
            log.warning("a users event with version %d is out of range: dropped", version)
            continue
        changes.append((agent.id, agent, version))
    for round_ in in_rounds(changes):
        await (_FROM_EVENTS if from_events else _FROM_ANSWER).execute(
            db,
            ids=[a.id for a, _ in round_],
            statuses=[a.status for a, _ in round_],
            deleted=[a.deleted for a, _ in round_],
            versions=[v for _, v in round_],
        )


@actor.on_events("servicing-agents", "users.>")
async def track_agents(events: list[Envelope], con: Conn, state: ServicingState) -> None:
    """User events about agents update the read model (newer versions only), a batch at a time."""
    users = ((data_as(e, UserChanged), e.version) for e in events)
    await remember(
        con,
        ((Standing(id=u.id, status=u.status, deleted=u.deleted), v) for u, v in users if u.role == "agent"),
    )


async def _ask_users(ctx: Ctx) -> Standing | None:
    body = msgspec.json.encode({"user_id": ctx.user.id})
    outcome, _, data = await exchange(
        ctx.nc, "users.get", body, timeout=_LOOKUP_TIMEOUT, token=ctx.user.token
    )
    if outcome == OK:
        user = _decode_user(data)
        if user.role != "agent":
            return None
        standing = Standing(id=user.id, status=user.status, deleted=user.deleted)
        await remember(ctx.pool, [(standing, user.version)], from_events=False)
        return standing
    if outcome in ("404", "401"):  # 401: the users actor no longer knows the caller (deleted)
        return None
    if outcome in _NOT_ANSWERING:
        raise Unavailable("the users service is not answering")
    raise Unavailable(f"the users service answered {outcome}")


async def approved_agent(ctx: Ctx) -> Standing:
    """The calling agent, if an admin has approved them and they are not deleted; else 403."""
    row = await _GET.fetchrow(ctx.pool, id=ctx.user.id)
    agent = Standing(**dict(row)) if row is not None else None
    if agent is None or not agent.acting:
        # the read model may not have the approval yet: ask before refusing (revocations land
        # through the event)
        agent = await _ask_users(ctx)
    if agent is None or agent.deleted:
        raise Forbidden("the agent account is no longer active")
    if agent.status == "pending":
        raise Forbidden("the agent is waiting for an admin's approval", code="agent_not_approved")
    if agent.status != "active":
        raise Forbidden("the agent has been rejected")
    return agent
