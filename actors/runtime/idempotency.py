"""Idempotent writes: a write repeated with the same `Idempotency-Key` returns the first answer.

A write handler calls `begin` before it works (a stored answer ends the request there, through
`Replay`), or works inside `answered_once` (a write cheap enough to run again: the stored answer is
looked for only when it is needed), and `finish` inside its transaction, so the answer is stored if
and only if the write commits. Two concurrent requests with one key: the second `finish` waits
for the first to commit, then finds its answer, and its own transaction rolls back. A write that
saves round trips stores its answer in its own statement instead (`store` in a WITH, as the
loans actor's do), with the same rule.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from actors.contracts.errors import ActorError, BadRequest, Conflict, Replay
from actors.contracts.headers import KEY_HEADER
from actors.runtime.actor import Context
from actors.runtime.db import Conn

TTL = "24 hours"  # long enough for any client's retries, short enough to keep the table small
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # 1..128 printable characters (api.md)
_ANONYMOUS = uuid.UUID(int=0)
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Claim:
    schema: str
    caller: uuid.UUID
    subject: str
    key: str
    digest: bytes


async def begin(ctx: Context[Any], schema: str, request: msgspec.Struct) -> Claim | None:
    """The claim for this request's key (None without one); raises Replay if already answered."""
    claim = claim_for(ctx, schema, request)
    await replay_if_answered(ctx.pool, claim)
    return claim


def claim_for(ctx: Context[Any], schema: str, request: msgspec.Struct) -> Claim | None:
    """The claim for this request's key (None without one), without looking for an answer yet."""
    key = ctx.headers.get(KEY_HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise BadRequest("Idempotency-Key: 1 to 128 printable characters", details={"field": KEY_HEADER})
    caller = ctx.caller.id if ctx.caller is not None else _ANONYMOUS
    return Claim(schema, caller, ctx.subject, key, hashlib.sha256(_encode(request)).digest())


@asynccontextmanager
async def answered_once(
    ctx: Context[Any], schema: str, request: msgspec.Struct
) -> AsyncIterator[Claim | None]:
    """`begin` for a cheap write: no lookup first, since almost every key is new. A repeat runs
    the write again, and storing its answer finds the first one and replays it (its transaction
    rolls back); a repeat the write refuses (the loan was decided since, say) is answered from the
    stored answer here, if there is one, instead of the refusal."""
    claim = claim_for(ctx, schema, request)
    try:
        yield claim
    except ActorError:
        await replay_if_answered(ctx.pool, claim)
        raise


def store(table: str, first: int = 1) -> str:
    """The statement that stores an answer in `table`, its arguments (`store_args`) numbered from
    `first`; it returns a row if and only if it stored one. An expired answer under the same key
    is replaced; a live one is left alone (and its key's row stays locked until the statement's
    transaction ends), so the caller replays it. A write that stores its answer in its own
    statement (the loans actor's) puts this in a WITH."""
    a, b, c, d, e = (f"${i}" for i in range(first, first + 5))
    return f"""INSERT INTO {table} (caller, subject, key, request_hash, reply, expires_at)
            VALUES ({a}, {b}, {c}, {d}, {e}, now() + interval '{TTL}')
            ON CONFLICT (caller, subject, key) DO UPDATE
              SET request_hash = EXCLUDED.request_hash, reply = EXCLUDED.reply,
                  created_at = now(), expires_at = EXCLUDED.expires_at
              WHERE {table}.expires_at < now()
            RETURNING true"""


def store_args(claim: Claim, reply: Any) -> tuple[uuid.UUID, str, str, bytes, bytes]:
    """The arguments of `store`: the claim's key and request, and the answer to store."""
    encoded = reply if isinstance(reply, bytes) else _encode(reply)
    return claim.caller, claim.subject, claim.key, claim.digest, encoded


async def finish(con: Conn, claim: Claim | None, reply: Any) -> None:
    """Store the answer in the write's transaction (call it last inside that transaction)."""
    if claim is None:
        return
    stored = await con.fetchval(store(f"{claim.schema}.idempotency"), *store_args(claim, reply))
    if not stored:  # a concurrent request with this key committed first: answer as it did
        await replay_if_answered(con, claim)


async def replay_if_answered(db: Any, claim: Claim | None) -> None:
    """Raise Replay if this claim's request was answered already (a no-op without a claim)."""
    if claim is None:
        return
    row = await db.fetchrow(
        f"""SELECT request_hash, reply FROM {claim.schema}.idempotency
            WHERE caller = $1 AND subject = $2 AND key = $3 AND expires_at > now()""",
        claim.caller,
        claim.subject,
        claim.key,
    )
    if row is None:
        return
    if bytes(row["request_hash"]) != claim.digest:
        raise Conflict("this Idempotency-Key was used with a different request")
    raise Replay(bytes(row["reply"]))
