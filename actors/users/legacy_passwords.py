"""Passwords of users imported from the Django monolith (design.md §13).

Django stores `pbkdf2_sha256$<iterations>$<salt>$<base64 of the SHA-256 PBKDF2 key>`. It is
checked here with the standard library (the iteration count is the hash's own, whatever Django
version made it), compared in constant time; on a login that passes, the users actor replaces it
with bcrypt. Any other format (Django's argon2 or bcrypt variants, an unusable `!` password) is
never accepted: that user resets their password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg

from actors.contracts.errors import ActorError
from actors.runtime.sql import Statement

log = logging.getLogger("actors.users.legacy_passwords")

PREFIX = "pbkdf2_sha256$"
# A stored count beyond this would let one login burn minutes of CPU: no Django default is near it.
MAX_ITERATIONS = 10_000_000


def is_legacy(hashed: str | None) -> bool:
    return hashed is not None and hashed.startswith(PREFIX)


def is_bcrypt(hashed: str | None) -> bool:
    return hashed is not None and hashed.startswith(("$2a$", "$2b$", "$2y$"))


def verify(raw: bytes, hashed: str) -> bool:
    """True if `raw` is the password of the Django hash `hashed`; False for any malformed hash."""
    try:
        algorithm, iterations_text, salt, encoded = hashed.split("$", 3)
        iterations = int(iterations_text)
        expected = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        return False
    if algorithm != "pbkdf2_sha256" or not 1 <= iterations <= MAX_ITERATIONS or len(expected) != 32:
        return False
    derived = hashlib.pbkdf2_hmac("sha256", raw, salt.encode(), iterations)
    return hmac.compare_digest(derived, expected)


_REPLACE = Statement(
    "UPDATE users SET password_hash = :new, updated_at = now() WHERE id = :id AND password_hash = :old"
)


async def replace_with_bcrypt(
    pool: asyncpg.Pool, hash_password: Callable[[bytes], Awaitable[str]], user_id: UUID, old: str, raw: bytes
) -> None:
    """After a login that passed on a Django hash: store bcrypt instead. Only if the row still holds
    that hash (two first logins at once write one), and a failure costs the login nothing: the
    next one tries again."""
    try:
        await _REPLACE.execute(pool, new=await hash_password(raw), id=user_id, old=old)
    except ActorError:  # the hashing queue is full: the login still succeeded
        log.info("the Django hash of %s stays until the next login (hashing queue full)", user_id)
