"""bcrypt runs on its own bounded threads at a lower CPU priority than the request work, so a login
storm queues logins instead of starving reads (issue 7's storm scenario measures the effect)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import bcrypt
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


@pytest.mark.anyio
async def test_a_check_given_up_in_the_queue_never_hashes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A login whose request gives up (its deadline passes) while it is queued for a hashing
    thread costs no bcrypt work: its job is cancelled before it starts, so the logins a storm
    abandons do not keep the threads busy for the ones still waiting."""
    hashed = bcrypt.hashpw(b"the-password", bcrypt.gensalt(4)).decode()
    started: list[bytes] = []
    busy, hold = threading.Event(), threading.Event()
    real_check = bcrypt.checkpw

    def checkpw(raw: bytes, target: bytes) -> bool:
        started.append(raw)
        if raw == b"first-in-line":
            busy.set()
            hold.wait(10)  # keeps the only thread busy while the others queue
        return real_check(raw, target)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    passwords = Passwords(4, 1)
    try:
        first = asyncio.create_task(passwords.check(b"first-in-line", hashed))
        assert await asyncio.to_thread(busy.wait, 10)
        queued = [asyncio.create_task(passwords.check(f"queued-{i}".encode(), hashed)) for i in range(3)]
        await asyncio.sleep(0.05)  # submitted to the pool, waiting behind the first
        for task in queued:
            task.cancel()
        # A task's cancel cancels its pool job on a later turn of the loop (asyncio chains the
        # two futures with a callback): let those turns run before the thread is free to take one.
        await asyncio.gather(*queued, return_exceptions=True)
        hold.set()
        assert await first is False
        assert await passwords.check(b"the-password", hashed) is True
    finally:
        hold.set()
        passwords.close()
    assert started == [b"first-in-line", b"the-password"]
