"""Waiting until something holds: the one polling loop of the tests.

A check passes when it returns a truthy value; returning a falsy one, or raising AssertionError
(or an exception named in `ignoring`), means "not yet". Any other exception fails at once, as
does `pytest.fail` inside a check (for a process that died while being waited for). At the
timeout the test fails with the last value or the last exception, so the report says how far
things got, not only that they did not.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class _Attempts:
    """The deadline and the last outcome of a check that has not passed yet."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout = timeout
        self.what = what
        self.deadline = time.monotonic() + timeout
        self.last_value: object = None
        self.last_error: BaseException | None = None

    def failed(self, value: object = None, error: BaseException | None = None) -> None:
        """Record this attempt; past the deadline, fail the test with it."""
        self.last_value, self.last_error = value, error
        if time.monotonic() < self.deadline:
            return
        what = self.what or "the check did not pass"
        if error is not None:
            raise AssertionError(f"{what} within {self.timeout} s; last error: {error!r}") from error
        raise AssertionError(f"{what} within {self.timeout} s; last value: {value!r}")


async def eventually(
    check: Callable[[], Awaitable[T] | T],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "",
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """`check()`'s first truthy value, polled every `interval` s; fails the test after `timeout` s."""
    attempts = _Attempts(timeout, what)
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
        except (AssertionError, *ignoring) as error:
            attempts.failed(error=error)
        else:
            if value:
                return value  # type: ignore[return-value]  # awaited above when it was awaitable
            attempts.failed(value)
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], T],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "",
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """`eventually` for code that runs outside the event loop (it blocks while it waits)."""
    attempts = _Attempts(timeout, what)
    while True:
        try:
            value = check()
        except (AssertionError, *ignoring) as error:
            attempts.failed(error=error)
        else:
            if value:
                return value
            attempts.failed(value)
        time.sleep(interval)
