"""bcrypt on a small, bounded thread pool: logins queue behind each other, never block the loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import bcrypt

from actors.errors import BadRequest

MIN_BYTES, MAX_BYTES = 8, 72  # bcrypt reads at most 72 bytes (and bcrypt 5 refuses more)


def check_length(password: str) -> bytes:
    raw = password.encode()
    if not MIN_BYTES <= len(raw) <= MAX_BYTES:
        raise BadRequest(
            f"password: must be {MIN_BYTES} to {MAX_BYTES} bytes long", details={"field": "password"}
        )
    return raw


class Passwords:
    def __init__(self, cost: int, threads: int) -> None:
        self._cost = cost
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bcrypt")
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
