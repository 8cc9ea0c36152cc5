"""Django's pbkdf2_sha256 hashes, checked with the standard library (actors/users/legacy_passwords.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from actors.users import legacy_passwords
from actors.users.passwords import Passwords

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("iterations", [1, 1000, 20_000])
def test_a_django_hash_verifies_with_its_own_iteration_count(iterations: int) -> None:
    hashed = PBKDF2PasswordHasher().encode("s3cret-monolith", "saltsaltsalt", iterations)
    assert legacy_passwords.is_legacy(hashed)
    assert legacy_passwords.verify(b"s3cret-monolith", hashed)
    assert not legacy_passwords.verify(b"s3cret-monolitH", hashed)


@pytest.mark.parametrize(
    "hashed",
    [
        "pbkdf2_sha256$x$salt$AAAA",  # iterations not a number
        "pbkdf2_sha256$1000$salt$not base64!",
        "pbkdf2_sha256$1000$salt$AAAA",  # not 32 bytes
        "pbkdf2_sha256$0$salt$" + "A" * 43 + "=",
        "pbkdf2_sha256$99999999999$salt$" + "A" * 43 + "=",  # would burn minutes
        "pbkdf2_sha256$1000",
    ],
)
def test_a_malformed_hash_is_refused_not_raised(hashed: str) -> None:
    assert not legacy_passwords.verify(b"whatever-it-is", hashed)


async def test_other_formats_never_log_in_and_bcrypt_still_does() -> None:
    """argon2 or an unusable `!` password (Django's formats we do not take): refused, the user resets."""
    passwords = Passwords(4, 1)
    try:
        for other in ("argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA", "!unusable", ""):
            assert not await passwords.check(b"anything-at-all", other)
        django = PBKDF2PasswordHasher().encode("old-password", "somesalt", 500)
        assert await passwords.check(b"old-password", django)
        assert not await passwords.check(b"old-passworD", django)
        ours = await passwords.hash(b"new-password")
        assert await passwords.check(b"new-password", ours)
    finally:
        passwords.close()
