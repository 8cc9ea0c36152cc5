"""tests/support/polling.py: the one way the tests wait for something to hold."""

from __future__ import annotations

import time

import pytest

from tests.support.polling import eventually, eventually_sync

pytestmark = pytest.mark.anyio


class Countdown:
    """A check that returns 0 (or raises `error`) until its `n`-th call, which returns "done"."""

    def __init__(self, n: int, error: Exception | None = None) -> None:
        self.left, self.calls, self.error = n, 0, error

    def __call__(self) -> str | int:
        self.calls += 1
        self.left -= 1
        if self.left > 0:
            if self.error is not None:
                raise self.error
            return 0
        return "done"


async def test_it_returns_the_first_truthy_value_of_a_sync_or_async_check() -> None:
    check = Countdown(3)
    assert await eventually(check, interval=0) == "done" and check.calls == 3

    async def seven() -> int:
        return 7

    assert await eventually(seven) == 7


async def test_a_failed_assert_or_an_ignored_error_means_not_yet() -> None:
    check = Countdown(3, AssertionError("not yet"))
    assert await eventually(check, interval=0) == "done" and check.calls == 3
    check = Countdown(3, ConnectionRefusedError("not listening yet"))
    assert await eventually(check, interval=0, ignoring=(OSError,)) == "done" and check.calls == 3


async def test_at_the_timeout_it_fails_with_the_last_value() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"^the queue did not empty within 0.2 s; last value: 0$"):
        await eventually(Countdown(1000), timeout=0.2, what="the queue did not empty")
    assert time.monotonic() - started >= 0.2


async def test_at_the_timeout_it_fails_with_the_last_error_as_the_cause() -> None:
    error = AssertionError("2 rows, not 3")
    with pytest.raises(AssertionError, match=r"last error: AssertionError\('2 rows, not 3'\)") as failed:
        await eventually(Countdown(1000, error), timeout=0.1)
    assert failed.value.__cause__ is error


async def test_any_other_error_fails_at_once() -> None:
    check = Countdown(1000, KeyError("a bug in the check"))
    with pytest.raises(KeyError):
        await eventually(check, timeout=5)
    assert check.calls == 1


async def test_pytest_fail_in_a_check_fails_at_once() -> None:
    calls = []

    def process_died() -> bool:
        calls.append(1)
        pytest.fail("the worker exited while starting")

    with pytest.raises(pytest.fail.Exception, match="exited while starting"):
        await eventually(process_died, timeout=5)
    assert len(calls) == 1


def test_the_sync_variant_waits_the_same_way() -> None:
    check = Countdown(3, AssertionError("not yet"))
    assert eventually_sync(check, interval=0) == "done" and check.calls == 3
    with pytest.raises(AssertionError, match=r"^not ready within 0.1 s; last value: 0$"):
        eventually_sync(Countdown(1000), timeout=0.1, what="not ready")
