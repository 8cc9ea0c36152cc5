"""Idempotent writes: a write repeated with the same `Idempotency-Key` returns the first answer.

Every keyed write takes its request's `Claim` once (`claim(ctx, request)`; a request without a key
gets a claim whose every step is a no-op) and goes through the same steps:

- `replay_if_answered`: look for a stored answer first (a write too dear to run twice, such as one
  that hashes a password), or `replaying_refusals` around the write instead (a cheap write: almost
  every key is new, so the answer is looked for only when the write is refused, and a repeat the
  write refuses, the loan decided since say, gets its stored answer rather than the refusal);
- store the answer in the write's own transaction, so it is stored if and only if the write
  commits: `store` as a statement of its own, or `STORE_ANSWER` with `rows(answer)` in the write's
  own statement (a WITH, as the loans actor's one-statement writes do);
- a store that stored nothing means the key has a live answer (a repeat, or a concurrent request
  with the key that committed first, which the store waited for): `replay_stored` answers as it
  did, and the write's transaction rolls back.

A key reused with another request body is 409. The statements name no schema: they run on the
actor's pool, whose search path is its own schema (actors/runtime/db.py).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

import msgspec

from actors.contracts.errors import ActorError, BadRequest, Conflict, Replay
from actors.contracts.headers import KEY_HEADER
from actors.runtime.actor import Context
from actors.runtime.sql import Db, Statement

TTL = "24 hours"  # long enough for any client's retries, short enough to keep the table small
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # 1..128 printable characters (api.md)
_ANONYMOUS = uuid.UUID(int=0)
_encode = msgspec.json.Encoder().encode


class StoredAnswer(NamedTuple):
    """The parameters of STORE_ANSWER: the claim's key and request, and the answer to store."""

    caller: uuid.UUID
    subject: str
    key: str
    request_hash: bytes
    reply: bytes


# Stores an answer; returns a row if and only if it stored one. An expired answer under the same
# key is replaced; a live one is left alone (and its key's row stays locked until the statement's
# transaction ends), so the caller replays it. A statement of its own, or a WITH clause of a write.
STORE_ANSWER = f"""INSERT INTO idempotency (caller, subject, key, request_hash, reply, expires_at)
            VALUES (:caller, :subject, :key, :request_hash, :reply, now() + interval '{TTL}')
            ON CONFLICT (caller, subject, key) DO UPDATE
              SET request_hash = EXCLUDED.request_hash, reply = EXCLUDED.reply,
                  created_at = now(), expires_at = EXCLUDED.expires_at
              WHERE idempotency.expires_at < now()
            RETURNING true"""
STORE = Statement(STORE_ANSWER, StoredAnswer)
ANSWER = Statement(
    """SELECT request_hash, reply FROM idempotency
       WHERE caller = :caller AND subject = :subject AND key = :key AND expires_at > now()"""
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A request's claim on its Idempotency-Key; without a key (`key` None) every step is a no-op."""

    caller: uuid.UUID
    subject: str
    key: str | None
    digest: bytes

    @property
    def keyed(self) -> bool:
        return self.key is not None

    async def replay_if_answered(self, db: Db) -> None:
        """Raise Replay if this request was answered already under its key (409 for another body)."""
        if self.key is None:
            return
        row = await ANSWER.fetchrow(db, caller=self.caller, subject=self.subject, key=self.key)
        if row is None:
            return
        if bytes(row["request_hash"]) != self.digest:
            raise Conflict("this Idempotency-Key was used with a different request")
        raise Replay(bytes(row["reply"]))

    async def replay_stored(self, db: Db) -> NoReturn:
        """After a store that stored nothing: the key was answered, so answer as it was."""
        await self.replay_if_answered(db)
        # not found after all: the answer expired in between; the client's retry will be new
        raise Conflict("this Idempotency-Key is being used by another request; try again")

    def rows(self, answer: msgspec.Struct) -> tuple[StoredAnswer] | tuple[()]:
        """The STORE_ANSWER parameters of a write's own statement: none without a key."""
        if self.key is None:
            return ()
        return (StoredAnswer(self.caller, self.subject, self.key, self.digest, _encode(answer)),)

    async def store(self, con: Db, answer: msgspec.Struct) -> None:
        """Store the answer in the write's transaction (the last statement in it)."""
        if self.key is None:
            return
        if not await con.fetchval(STORE.sql, *STORE.args_of(*self.rows(answer))):
            await self.replay_stored(con)

    @asynccontextmanager
    async def replaying_refusals(self, db: Db) -> AsyncIterator[None]:
        """Around a write (outside its transaction): a refusal of a request answered before under
        its key is answered from the stored answer instead."""
        try:
            yield
        except ActorError:
            await self.replay_if_answered(db)
            raise


def claim(ctx: Context[Any], request: msgspec.Struct) -> Claim:
    """This request's claim on its key (no I/O: nothing is looked up yet); a malformed key is 400."""
    caller = ctx.caller.id if ctx.caller is not None else _ANONYMOUS
    key = ctx.headers.get(KEY_HEADER)
    if key is None:
        return Claim(caller, ctx.subject, None, b"")
    if not _KEY.match(key):
        raise BadRequest("Idempotency-Key: 1 to 128 printable characters", details={"field": KEY_HEADER})
    return Claim(caller, ctx.subject, key, hashlib.sha256(_encode(request)).digest())
