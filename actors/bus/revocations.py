"""Revoked tokens, held in memory by every component that verifies tokens (issue 12 M6).

Tokens are stateless JWTs: a logout, a password change or a disabled admin is recorded by the
users actor (its schema is the truth), which announces each new revocation on the core subject
`users.revocations.changed`. Every verifier holds a `Denylist` fed by those announcements
(`RevocationFeed`), and catches up from `users.revocations` (the whole current list) when it
starts, when its connection comes back, and periodically: an announcement it missed (it was
disconnected, or the users worker died between commit and announcement) is picked up then.
Catching up only adds; nothing a reply says removes a revocation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from uuid import UUID

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from actors.contracts.sessions import REVOCATIONS_CHANGED, Revocations

log = logging.getLogger("actors.bus.revocations")

# The longest token lifetime the settings allow (LOANS_JWT_TTL_SECONDS ≤ 86,400): a user-wide
# revocation older than that can refuse nothing any more.
LONGEST_TOKEN_LIFE = 86_400.0
_decode = msgspec.json.Decoder(Revocations).decode


def epoch_ms(seconds: float) -> int:
    """Whole milliseconds: tokens say when they were issued to the millisecond (actors/users/signing.py)."""
    return round(seconds * 1000)


def issued_before(issued_at: float, moment_ms: int) -> bool:
    """Whether a token issued at `issued_at` (its `iat`) predates a revocation at `moment_ms`."""
    return epoch_ms(issued_at) < moment_ms


class Denylist:
    """Which tokens are refused although their signature and expiry are good."""

    def __init__(self) -> None:
        self._tokens: dict[str, float] = {}  # jti → when the token expires (epoch seconds)
        self._users: dict[UUID, int] = {}  # user → tokens issued before this (epoch ms) are refused

    def refuses(self, user_id: UUID, jti: str, issued_at: float) -> bool:
        if jti in self._tokens:
            return True
        before = self._users.get(user_id)
        return before is not None and issued_before(issued_at, before)

    def add(self, revocations: Revocations) -> None:
        """Add what `revocations` says (a newer user-wide moment wins; an older one changes nothing)."""
        for token in revocations.tokens:
            self._tokens[token.jti] = token.expires_at.timestamp()
        for user in revocations.users:
            moment = epoch_ms(user.tokens_before.timestamp())
            if moment > self._users.get(user.user_id, 0):
                self._users[user.user_id] = moment
        self._forget_expired()

    def _forget_expired(self) -> None:
        now = time.time()
        self._tokens = {jti: exp for jti, exp in self._tokens.items() if exp > now}
        oldest = epoch_ms(now - LONGEST_TOKEN_LIFE)
        self._users = {u: t for u, t in self._users.items() if t > oldest}

    def __len__(self) -> int:
        return len(self._tokens) + len(self._users)


class RevocationFeed:
    """Keeps a Denylist current: announcements as they come, the whole list on `catch_up`."""

    def __init__(self, denylist: Denylist, fetch_list: Callable[[], Awaitable[bytes]]) -> None:
        self.denylist = denylist
        self._fetch = fetch_list
        self._sub: Subscription | None = None

    async def subscribe(self, nc: Client) -> None:
        self._sub = await nc.subscribe(REVOCATIONS_CHANGED, cb=self._announced)

    async def _announced(self, msg: Msg) -> None:
        try:
            self.denylist.add(_decode(msg.data))
        except (msgspec.DecodeError, UnicodeDecodeError):  # only the users actor may publish here
            log.warning("a revocation announcement that does not decode was ignored")

    async def catch_up(self) -> bool:
        """Add the current list; False (nothing changed) if it cannot be had or does not decode."""
        try:
            self.denylist.add(_decode(await self._fetch()))
            return True
        except Exception as exc:  # users down, an error reply, garbage: keep what is held
            log.warning("revocations could not be fetched (keeping %d held): %s", len(self.denylist), exc)
            return False

    async def close(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # the connection may be closed already
                log.debug("unsubscribe of %s failed", REVOCATIONS_CHANGED, exc_info=True)
            self._sub = None
