"""Who the loans actor deals with: its own read model of customers and agents.

The `parties` table is fed by the users actor's events (`users.>`), so an approval, rejection,
deletion or new lending limit takes effect here as soon as the event lands. A user not yet in it
(the event still on its way) is asked of the users actor with `users.get` and written in; each
row keeps the user's version, so an older event never overwrites a newer state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from actors.bus.client import NO_RESPONDERS, OK, TIMEOUT, UNAVAILABLE, exchange
from actors.contracts.errors import Forbidden, Unavailable
from actors.contracts.users import UserChanged, UserRecord
from actors.runtime.actor import Context
from actors.runtime.db import Conn
from actors.runtime.versions import in_rounds

log = logging.getLogger("actors.loans.parties")

_decode_user = msgspec.json.Decoder(UserRecord).decode
_LOOKUP_TIMEOUT = 2.0
_NOT_ANSWERING = frozenset({NO_RESPONDERS, TIMEOUT, UNAVAILABLE})

# Event versions are trusted only so far (the users actor's versions are int4 and count up by one
# per change): out of 1..2^31-1 an event is dropped (it would fail the whole batch's statement), and
# an event's version more than MAX_VERSION_JUMP past the stored one is not applied (a forged 2^31-1
# would freeze the row against every real change after it); a users.get answer, the users actor's
# own word, is.
MAX_VERSION = 2**31 - 1
MAX_VERSION_JUMP = 1000

PARTY_COLUMNS = "id, role, status, email, first_name, last_name, deleted, lending_limit"
get_party = f"SELECT {PARTY_COLUMNS} FROM parties WHERE id = $1"
get_parties = f"SELECT {PARTY_COLUMNS} FROM parties WHERE id = ANY($1::uuid[])"
upsert_party = """
INSERT INTO parties (id, role, status, email, first_name, last_name, deleted, lending_limit, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET
    role = EXCLUDED.role, status = EXCLUDED.status, email = EXCLUDED.email,
    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, deleted = EXCLUDED.deleted,
    lending_limit = EXCLUDED.lending_limit, version = EXCLUDED.version, updated_at = now()
WHERE parties.version < EXCLUDED.version"""


# A batch of parties in one statement. ORDER BY id: two workers applying batches that share
# parties lock their rows in the same order, so they wait for each other, never deadlock.
upsert_parties = f"""
INSERT INTO parties (id, role, status, email, first_name, last_name, deleted, lending_limit, version)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::boolean[], $8::numeric[], $9::integer[])
ORDER BY 1
ON CONFLICT (id) DO UPDATE SET
    role = EXCLUDED.role, status = EXCLUDED.status, email = EXCLUDED.email,
    first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, deleted = EXCLUDED.deleted,
    lending_limit = EXCLUDED.lending_limit, version = EXCLUDED.version, updated_at = now()
WHERE parties.version < EXCLUDED.version AND EXCLUDED.version <= parties.version + {MAX_VERSION_JUMP}"""


class Party(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    role: str
    status: str
    email: str
    first_name: str
    last_name: str
    deleted: bool
    lending_limit: Decimal | None = None  # an agent's; None: no limit

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def party_of(user: UserRecord | UserChanged) -> Party:
    """The read model's view of a user, from a users.get answer or a users.* event."""
    return Party(
        id=user.id,
        role=user.role,
        status=user.status,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        deleted=user.deleted,
        lending_limit=user.lending_limit,
    )


def plausible(version: int) -> bool:
    """A version the read model may store: 1..2^31-1 (others are logged and dropped)."""
    if 1 <= version <= MAX_VERSION:
        return True
    log.warning("a users event with version %d is out of range: dropped", version)
    return False


async def remember(con: Conn | asyncpg.Pool, party: Party, version: int) -> None:
    if not plausible(version):
        return
    await con.execute(
        upsert_party,
        party.id,
        party.role,
        party.status,
        party.email,
        party.first_name,
        party.last_name,
        party.deleted,
        party.lending_limit,
        version,
    )


async def remember_all(con: Conn, versions: Iterable[tuple[Party, int]]) -> None:
    """`remember` for a batch: one statement a round, each party's versions oldest first
    (actors/runtime/versions.py: a refused far-future version must not hide a real one)."""
    plausible_ones = ((party.id, party, version) for party, version in versions if plausible(version))
    for round_ in in_rounds(plausible_ones):
        rows = [
            (p.id, p.role, p.status, p.email, p.first_name, p.last_name, p.deleted, p.lending_limit, version)
            for p, version in round_
        ]
        await con.execute(upsert_parties, *(list(column) for column in zip(*rows, strict=True)))


async def find(ctx: Context[Any], user_id: UUID, *, fresh: bool = False) -> Party | None:
    """The user with this id (deleted ones included), or None if there is none.

    From the read model, unless it has no row yet or `fresh` asks for the users actor's answer.
    """
    if not fresh:
        row = await ctx.pool.fetchrow(get_party, user_id)
        if row is not None:
            return Party(**dict(row))
    record = await _ask_users(ctx, user_id)
    if record is None:
        return None
    party = party_of(record)
    await remember(ctx.pool, party, record.version)
    return party


def _acting(agent: Party | None) -> bool:
    return agent is not None and not agent.deleted and agent.role == "agent" and agent.status == "active"


async def _ask_users(ctx: Context[Any], user_id: UUID) -> UserRecord | None:
    body = msgspec.json.encode({"user_id": user_id})
    outcome, _, data = await exchange(
        ctx.nc, "users.get", body, timeout=_LOOKUP_TIMEOUT, token=ctx.user.token
    )
    if outcome == OK:
        return _decode_user(data)
    if outcome == "404":
        return None
    if outcome == "401":  # the users actor no longer knows the caller: a deleted account
        raise Forbidden("the agent account is no longer active")
    if outcome in _NOT_ANSWERING:
        raise Unavailable("the users service is not answering")
    raise Unavailable(f"the users service answered {outcome}")


async def approved_agent_and(ctx: Context[Any], user_id: UUID) -> tuple[Party, Party | None]:
    """`approved_agent` and `find(user_id)`, both read from the read model in one query (a loan
    request needs its agent and its customer)."""
    rows = {row["id"]: row for row in await ctx.pool.fetch(get_parties, [ctx.user.id, user_id])}
    agent_row, other_row = rows.get(ctx.user.id), rows.get(user_id)
    agent = await approved_agent(ctx, Party(**dict(agent_row)) if agent_row is not None else None)
    other = Party(**dict(other_row)) if other_row is not None else await find(ctx, user_id, fresh=True)
    return agent, other


async def approved_agent(ctx: Context[Any], known: Party | None = None) -> Party:
    """The calling agent, if an admin has approved them and they are not deleted (`known`: the
    read model's row, read already)."""
    agent = known if known is not None else await find(ctx, ctx.user.id)
    if not _acting(agent):
        # The read model may not have the approval yet (its event is on the way): before
        # refusing, ask the users actor. Revocations still land through the event.
        agent = await find(ctx, ctx.user.id, fresh=True)
    if agent is None or agent.deleted or agent.role != "agent":
        raise Forbidden("the agent account is no longer active")
    if agent.status == "pending":
        raise Forbidden("the agent is waiting for an admin's approval", code="agent_not_approved")
    if agent.status != "active":
        raise Forbidden("the agent has been rejected")
    return agent


def within_limit(agent: Party, principal: Decimal) -> None:
    """Refuse (403) a principal over the agent's lending limit; exactly the limit is allowed."""
    if agent.lending_limit is not None and principal > agent.lending_limit:
        raise Forbidden(
            f"the principal is over the agent's lending limit of {agent.lending_limit:.2f}",
            code="over_agent_limit",
            details={"lending_limit": f"{agent.lending_limit:.2f}"},
        )
