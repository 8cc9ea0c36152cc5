"""The bound of a users worker's hash queue: as many hashes as its threads can do within the
deadline, at the speed measured when it starts, unless one is set."""

from __future__ import annotations

import math

import pytest

from actors.contracts.errors import Unavailable
from actors.users.passwords import Passwords

pytestmark = pytest.mark.anyio


def test_the_default_bound_is_what_fits_in_the_deadline() -> None:
    passwords = Passwords(4, 2, deadline=5.0)
    try:
        assert passwords.bound == max(2, math.floor(2 * 5.0 / passwords.seconds_per_hash))
    finally:
        passwords.close()


def test_a_bound_set_wins() -> None:
    passwords = Passwords(4, 2, queue=7)
    try:
        assert passwords.bound == 7
    finally:
        passwords.close()


async def test_a_full_queue_refuses_with_a_retry_hint() -> None:
    """Held at the bound: the next check is 503 at once, with retry_after of at least a second."""
    passwords = Passwords(4, 1, queue=1)
    try:
        passwords.held = 1  # one hash running
        with pytest.raises(Unavailable) as refused:
            await passwords.check(b"password-1", None)
        assert refused.value.status == 503 and refused.value.details["retry_after"] >= 1
        passwords.held = 0
        assert await passwords.check(b"password-1", None) is False  # room again: checked
    finally:
        passwords.close()
