"""bcrypt runs on its own bounded threads at a lower CPU priority than the request work, so a login
storm queues logins instead of starving reads (issue 7's storm scenario measures the effect)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from actors.users.passwords import HASHING_NICENESS, Passwords


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")
def test_hashing_threads_run_at_a_lower_priority_and_the_caller_keeps_its_own() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    passwords = Passwords(4, 2)
    try:
        seen = [
            passwords._pool.submit(
                lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            ).result()
            for _ in range(4)
        ]
    finally:
        passwords.close()
    assert set(seen) == {min(19, mine + HASHING_NICENESS)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
