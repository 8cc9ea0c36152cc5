"""bcrypt on a small, bounded, low-priority thread pool: logins queue behind each other and behind
the requests, and never block the loop."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import bcrypt

from actors.contracts.errors import BadRequest

MIN_BYTES, MAX_BYTES = 8, 72  # bcrypt reads at most 72 bytes (and bcrypt 5 refuses more)


def check_length(password: str) -> bytes:
    raw = password.encode()
    if not MIN_BYTES <= len(raw) <= MAX_BYTES:
        raise BadRequest(
            f"password: must be {MIN_BYTES} to {MAX_BYTES} bytes long", details={"field": "password"}
        )
    return raw


HASHING_NICENESS = 10  # added to the process's own nice value (19 at most)


def _yield_to_requests() -> None:
    """Each hashing thread runs at a lower CPU priority than the rest of the machine's work (Linux
    gives every thread its own nice value): under a login storm the scheduler serves the requests
    first, on every process of the host, and logins wait for the CPU that is left instead of taking
    it from them. Lowering one's own priority needs no privilege; where it fails, nothing changes."""
    try:
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + HASHING_NICENESS))
    except (AttributeError, OSError):  # not Linux, or refused: hash at normal priority
        pass


class Passwords:
    def __init__(self, cost: int, threads: int) -> None:
        self._cost = cost
        self._pool = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="bcrypt", initializer=_yield_to_requests
        )
        # Unknown emails are checked against this, so they take as long as a wrong password.
        self._dummy = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(cost))

    async def hash(self, raw: bytes) -> str:
        loop = asyncio.get_running_loop()
        hashed = await loop.run_in_executor(self._pool, bcrypt.hashpw, raw, bcrypt.gensalt(self._cost))
        return hashed.decode()

    async def check(self, raw: bytes, hashed: str | None) -> bool:
        too_long = len(raw) > MAX_BYTES
        if too_long:
            # bcrypt would compare only the first 72 bytes, so "the password + anything" would match:
            # refuse, but after the same work as a real check, so the answer's timing tells nothing.
            raw, hashed = raw[:MAX_BYTES], None
        target = hashed.encode() if hashed is not None else self._dummy
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._pool, bcrypt.checkpw, raw, target)
        return ok and hashed is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
