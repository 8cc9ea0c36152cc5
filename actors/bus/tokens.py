"""Bearer-token verification against the users actor's public keys (JWKS), shared by actors and edge.

Only the users actor holds the private key. Everyone else verifies EdDSA signatures with the
public keys it publishes on `users.jwks`, refetched when a token names a `kid` not yet known: at
most once per interval (failed attempts count), and an attempt that brings no keys (users down, an
error reply, anything that is not a JWKS) keeps the keys held; the unknown kid is then 503.
`refresh_keys` fetches them again on purpose (actors/bus/users_keys.py does so periodically, so a
retired key stops verifying), with the same rule: only a real JWKS replaces the keys.

A token whose signature and expiry are good is still refused when its `Denylist`
(actors/bus/revocations.py) says it was revoked: logged out, or issued before its user's password
change or disabling. That check runs on every call, cached tokens too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import jwt
import msgspec

from actors.bus.revocations import Denylist
from actors.contracts.errors import Unauthenticated, Unavailable
from actors.contracts.roles import ROLES

log = logging.getLogger("actors.bus.tokens")

ALGORITHM = "EdDSA"
_CACHE_SIZE = 10_000  # tokens remembered per process (the least recently used go first)
_REFETCH_AT_MOST_EVERY = 5.0  # seconds: a flood of forged kids must not become a flood of fetches


class Caller(msgspec.Struct, frozen=True):
    """Who is calling, as the token says."""

    id: UUID
    role: str
    token_id: str
    token: str
    issued_at: float = 0.0  # the token's `iat` (epoch seconds, to the millisecond)
    expires_at: float = 0.0  # its `exp`: a logout refuses the token until then


class TokenVerifier:
    """Verifies `Authorization: Bearer …` values; `fetch_jwks` returns the JWKS JSON bytes."""

    def __init__(
        self,
        fetch_jwks: Callable[[], Awaitable[bytes]],
        refetch_every: float = _REFETCH_AT_MOST_EVERY,
        denylist: Denylist | None = None,
    ) -> None:
        self._fetch = fetch_jwks
        self.denylist = denylist if denylist is not None else Denylist()
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._refetch_every = refetch_every
        # An Ed25519 verification is most of the edge's CPU on a cheap read, and a client sends the
        # same token for an hour: remember what a token proved until it expires. Only a token that
        # verified is kept; keys are the full token, so a tampered one is a miss.
        self._verified: OrderedDict[str, tuple[float, Caller]] = OrderedDict()
        self._keys: dict[str, Any] = {}
        self._tried_at: float | None = None  # the last fetch attempt, failed or not
        self._fetch_failed = False  # the last attempt brought no keys
        self._lock = asyncio.Lock()

    def load(self, jwks: bytes) -> None:
        """Replace the keys with those of `jwks`; ValueError (keys kept) if it is not a JWKS with at
        least one Ed25519 key: an error reply, or any other answer, must not empty the key set."""
        try:
            entries = msgspec.json.decode(jwks).get("keys")
            if not isinstance(entries, list) or not entries:
                raise ValueError("no keys")
            keys = {entry["kid"]: jwt.PyJWK(entry, algorithm=ALGORITHM).key for entry in entries}
        except (msgspec.DecodeError, AttributeError, KeyError, TypeError, ValueError, jwt.PyJWTError) as exc:
            raise ValueError(f"not a JWKS: {exc}") from None
        if self._keys.keys() - keys.keys():
            # A kid was retired: tokens it signed, remembered as verified, must be checked again.
            self._verified.clear()
        self._keys = keys

    async def refresh_keys(self) -> bool:
        """Fetch the keys again now (a rotation adds and retires kids); False, keys kept, if the
        answer is no JWKS. Counts as an attempt for the unknown-kid throttle."""
        async with self._lock:
            self._tried_at = time.monotonic()
            try:
                self.load(await self._fetch())
            except Exception as exc:  # down, an error reply, not a JWKS: keep the keys we have
                log.warning("JWKS refresh failed, keeping the %d keys held: %s", len(self._keys), exc)
                return False
            self._fetch_failed = False
            return True

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run `closer` on `close()`: what keeps this verifier current (actors/bus/users_keys.py)."""
        self._closers.append(closer)

    async def close(self) -> None:
        while self._closers:
            await self._closers.pop()()

    async def _key_for(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            now = time.monotonic()
            # At most one attempt per `refetch_every`, failed ones too: a flood of forged kids
            # (or a users actor that is down) must not become a flood of fetches.
            due = self._tried_at is None or now - self._tried_at >= self._refetch_every
            if kid not in self._keys and due:
                self._tried_at = now
                try:
                    self.load(await self._fetch())
                    self._fetch_failed = False
                except Exception as exc:  # down, an error reply, not a JWKS: keep the keys we have
                    self._fetch_failed = True
                    log.warning("JWKS fetch failed, keeping the %d keys held: %s", len(self._keys), exc)
        key = self._keys.get(kid)
        if key is None:
            if self._fetch_failed:  # the key may exist: we could not ask (503, not the token's fault)
                raise Unavailable("the signing keys cannot be fetched right now")
            raise Unauthenticated("the token is signed by an unknown key")
        return key

    async def verify_header(self, header: str | None) -> Caller:
        if not header:
            raise Unauthenticated("a bearer token is required")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Caller:
        hit = self._verified.get(token)
        if hit is not None and hit[0] <= time.time():
            del self._verified[token]
            hit = None
        if hit is not None:
            self._verified.move_to_end(token)
            caller = hit[1]
        else:
            caller, expires = await self._verify(token)
            self._verified[token] = (expires, caller)
            if len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)
        if self.denylist.refuses(caller.id, caller.token_id, caller.issued_at):
            raise Unauthenticated("the token has been revoked")
        return caller

    async def _verify(self, token: str) -> tuple[Caller, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the token is malformed") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated("the token's algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthenticated("the token names no key")
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "role", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("the token is not valid") from None
        role = claims.get("role")
        if role not in ROLES:
            raise Unauthenticated("the token is not valid")
        try:
            user_id = UUID(str(claims["sub"]))
        except ValueError:
            raise Unauthenticated("the token is not valid") from None
        try:
            issued_at = float(claims["iat"])
        except (TypeError, ValueError):
            raise Unauthenticated("the token is not valid") from None
        expires = float(claims["exp"])
        caller = Caller(
            id=user_id,
            role=role,
            token_id=str(claims["jti"]),
            token=token,
            issued_at=issued_at,
            expires_at=expires,
        )
        return caller, expires
