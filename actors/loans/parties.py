"""Who the loans actor deals with: customers and agents, asked of the users actor (`users.get`).

Answers are kept for a second, so an agent acting quickly costs one lookup, while an approval,
rejection or deletion still takes effect on loan routes well within api.md's two seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from actors.errors import Forbidden, Unavailable
from actors.runtime import DEADLINE_HEADER, ERROR_CODE_HEADER, Context
from actors.users.messages import UserRecord

_decode_user = msgspec.json.Decoder(UserRecord).decode
_LOOKUP_TIMEOUT = 2.0


@dataclass
class Parties:
    ttl: float = 1.0
    _cache: dict[UUID, tuple[float, UserRecord | None]] = field(default_factory=dict)

    async def get(self, ctx: Context[Any], user_id: UUID) -> UserRecord | None:
        """The user with this id (deleted ones included), or None if there is none."""
        now = time.monotonic()
        hit = self._cache.get(user_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        user = await self._ask(ctx, user_id)
        if len(self._cache) > 10_000:
            self._cache.clear()  # a crude bound; entries are only worth a second anyway
        self._cache[user_id] = (now, user)
        return user

    async def _ask(self, ctx: Context[Any], user_id: UUID) -> UserRecord | None:
        headers = {
            "Authorization": f"Bearer {ctx.user.token}",
            DEADLINE_HEADER: str(int((time.time() + _LOOKUP_TIMEOUT) * 1000)),
        }
        body = msgspec.json.encode({"user_id": user_id})
        try:
            reply = await ctx.nc.request("users.get", body, timeout=_LOOKUP_TIMEOUT, headers=headers)
        except (NoRespondersError, NatsTimeout):
            raise Unavailable("the users service is not answering") from None
        status = (reply.headers or {}).get(ERROR_CODE_HEADER)
        if status == "404":
            return None
        if status is not None:
            raise Unavailable(f"the users service answered {status}")
        return _decode_user(reply.data)

    async def approved_agent(self, ctx: Context[Any]) -> UserRecord:
        """The calling agent, if an admin has approved them and they are not deleted."""
        agent = await self.get(ctx, ctx.user.id)
        if agent is None or agent.deleted or agent.role != "agent":
            raise Forbidden("the agent account is no longer active")
        if agent.status == "pending":
            raise Forbidden("the agent is waiting for an admin's approval", code="agent_not_approved")
        if agent.status != "active":
            raise Forbidden("the agent has been rejected")
        return agent
