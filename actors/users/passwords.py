"""bcrypt on a small, bounded, low-priority thread pool: logins queue behind each other and behind
the requests, and never block the loop.

The queue is bounded too: a hash that could not start before the edge stops waiting is work for
nobody (the client gets a 504 anyway) and makes every later login wait longer. Past the bound a
login or signup is answered 503 at once, with `retry_after` in its details, which the edge sends
as `Retry-After` (design.md §16)."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import bcrypt

from actors.contracts.errors import BadRequest, Unavailable
from actors.users import legacy_passwords

T = TypeVar("T")
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


def _check_django(raw: bytes, hashed: bytes) -> bool:
    return legacy_passwords.verify(raw, hashed.decode())


class Passwords:
    def __init__(self, cost: int, threads: int, *, queue: int = 0, deadline: float = 5.0) -> None:
        """`queue`: hashes held at most (running and waiting); 0: as many as `threads` can do in
        `deadline` seconds, at the speed measured here."""
        self._cost = cost
        self._threads = threads
        self._pool = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="bcrypt", initializer=_yield_to_requests
        )
        # Unknown emails are checked against this, so they take as long as a wrong password.
        started = time.perf_counter()
        self._dummy = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(cost))
        self.seconds_per_hash = max(time.perf_counter() - started, 1e-4)
        fits = math.floor(threads * deadline / self.seconds_per_hash)
        self.bound = queue or max(threads, fits)
        self.held = 0  # hashes submitted and not finished

    async def _run(self, work: Callable[[bytes, bytes], T], raw: bytes, other: bytes) -> T:
        if self.held >= self.bound:
            # As long as the work ahead takes (at the measured speed), at least a second.
            wait = max(1, math.ceil(self.held * self.seconds_per_hash / self._threads))
            raise Unavailable(
                "too many passwords being checked; try again shortly", details={"retry_after": wait}
            )
        self.held += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, raw, other)
        finally:
            self.held -= 1

    async def hash(self, raw: bytes) -> str:
        hashed = await self._run(bcrypt.hashpw, raw, bcrypt.gensalt(self._cost))
        return hashed.decode()

    async def check(self, raw: bytes, hashed: str | None) -> bool:
        too_long = len(raw) > MAX_BYTES
        if too_long:
            # bcrypt would compare only the first 72 bytes, so "the password + anything" would match:
            # refuse, but after the same work as a real check, so the answer's timing tells nothing.
            raw, hashed = raw[:MAX_BYTES], None
        if legacy_passwords.is_legacy(hashed):  # imported from the monolith (design.md §13)
            assert hashed is not None
            return await self._run(_check_django, raw, hashed.encode())
        if not legacy_passwords.is_bcrypt(hashed):
            hashed = None  # any other format is never accepted (reset), after the same work
        target = hashed.encode() if hashed is not None else self._dummy
        ok = await self._run(bcrypt.checkpw, raw, target)
        return ok and hashed is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
