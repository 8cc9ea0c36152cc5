"""The background-loop helper: it starts and stops a named task, backs off between failures (capped,
jittered, reset by a success), stops at once even mid back-off, and wakes early when told."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from actors.runtime.background import BackgroundLoop, Backoff

pytestmark = pytest.mark.anyio

NO_JITTER = Backoff(initial=0.02, cap=0.08, jitter=0.0)


class Steps:
    """A step that records when it ran, fails its first `failures` calls, and signals each call."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.times: list[float] = []
        self.called = asyncio.Event()

    async def __call__(self) -> None:
        self.times.append(time.monotonic())
        self.called.set()
        if len(self.times) <= self.failures:
            raise ConnectionError(f"failure {len(self.times)}")

    async def next_call(self, timeout: float = 2.0) -> None:
        self.called.clear()
        await asyncio.wait_for(self.called.wait(), timeout)

    async def calls(self, n: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.times) < n:
                await self.next_call(timeout)


def test_pauses_double_up_to_the_cap() -> None:
    """Without jitter: initial, twice that, ..., then the cap for ever."""
    pauses = [Backoff(initial=0.1, cap=1.0, jitter=0.0).pause(n) for n in range(1, 8)]
    assert pauses == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_jitter_only_shortens_a_pause_and_spreads_them() -> None:
    """Each pause lies in [1 - jitter, 1] × its nominal length, never above the cap, and they differ."""
    backoff = Backoff(initial=1.0, cap=4.0, jitter=0.5)
    for failures, nominal in ((1, 1.0), (3, 4.0), (10, 4.0)):
        pauses = [backoff.pause(failures) for _ in range(200)]
        assert all(nominal * 0.5 <= p <= nominal for p in pauses)
        assert len(set(pauses)) > 100


async def test_start_runs_the_step_under_its_name_and_stop_ends_it() -> None:
    """The task bears the loop's name; after stop no step runs again."""
    steps = Steps()
    loop = BackgroundLoop("test-loop", steps, backoff=NO_JITTER, period=0.01)
    loop.start()
    try:
        await steps.calls(3)
        assert "test-loop" in {task.get_name() for task in asyncio.all_tasks()}
        with pytest.raises(RuntimeError):
            loop.start()  # one task per loop
    finally:
        await loop.stop()
    assert not loop.running
    ran = len(steps.times)
    await asyncio.sleep(0.05)
    assert len(steps.times) == ran


async def test_a_failing_step_backs_off_then_recovers(caplog: pytest.LogCaptureFixture) -> None:
    """Three failures: each logged, the pauses 0.02, 0.04, 0.08 s; then the step succeeds and the
    loop goes on at its period, its failure count reset."""
    steps = Steps(failures=3)
    loop = BackgroundLoop("flaky", steps, backoff=NO_JITTER, period=0.01)
    with caplog.at_level(logging.WARNING, logger="actors.runtime.background"):
        loop.start()
        try:
            await steps.calls(6)
            assert loop.failures == 0
            assert loop.running
        finally:
            await loop.stop()
    gaps = [b - a for a, b in zip(steps.times, steps.times[1:], strict=False)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08
    assert gaps[2] > gaps[1] > gaps[0] > gaps[3]  # the back-off grew, and the success ended it
    logged = [r.getMessage() for r in caplog.records if r.name == "actors.runtime.background"]
    expected = [f"flaky: ConnectionError('failure {n}')" for n in (1, 2, 3)]
    assert [line.split(";")[0] for line in logged] == expected


async def test_a_success_resets_the_back_off() -> None:
    """Fail, succeed, fail: the second failure waits the first pause again, not the second."""
    outcomes = iter([False, True, False])
    times: list[float] = []
    done = asyncio.Event()

    async def step() -> None:
        times.append(time.monotonic())
        if len(times) == 4:
            done.set()
        if not next(outcomes, True):
            raise OSError("down")

    loop = BackgroundLoop("resets", step, backoff=Backoff(initial=0.05, cap=10.0, jitter=0.0))
    loop.start()
    try:
        await asyncio.wait_for(done.wait(), 2)
    finally:
        await loop.stop()
    after_second_failure = times[3] - times[2]
    assert 0.05 <= after_second_failure < 0.1  # 0.1 had the count not been reset


async def test_stop_while_backing_off_returns_at_once() -> None:
    """A loop waiting out a long back-off stops without waiting for it."""
    steps = Steps(failures=1_000)
    loop = BackgroundLoop("stuck", steps, backoff=Backoff(initial=60.0, cap=60.0))
    loop.start()
    await steps.calls(1)
    await asyncio.sleep(0.01)  # into the pause
    assert loop.failures == 1
    started = time.monotonic()
    await loop.stop()
    assert time.monotonic() - started < 0.5
    assert not loop.running


async def test_the_wake_up_event_cuts_the_period_short() -> None:
    """With a period of a minute, setting the event runs the step again at once, once."""
    wake = asyncio.Event()
    steps = Steps()
    loop = BackgroundLoop("woken", steps, backoff=NO_JITTER, period=60.0, wake=wake)
    loop.start()
    try:
        await steps.calls(1)
        await asyncio.sleep(0.05)
        assert len(steps.times) == 1  # waiting out the period
        started = time.monotonic()
        wake.set()
        await steps.next_call(timeout=1.0)
        assert time.monotonic() - started < 0.5
        await asyncio.sleep(0.05)
        assert len(steps.times) == 2  # woken once, it waits out the period again
    finally:
        await loop.stop()


async def test_a_wake_up_during_the_step_is_not_lost() -> None:
    """The event set while the step runs (a NOTIFY for a row it did not see) runs it again."""
    wake = asyncio.Event()
    times: list[float] = []
    second = asyncio.Event()

    async def step() -> None:
        times.append(time.monotonic())
        if len(times) == 1:
            wake.set()
        else:
            second.set()

    loop = BackgroundLoop("notified", step, backoff=NO_JITTER, period=60.0, wake=wake)
    loop.start()
    try:
        await asyncio.wait_for(second.wait(), 1.0)
    finally:
        await loop.stop()


async def test_a_step_that_swallows_the_cancel_still_stops() -> None:
    """nats-py's fetch can turn a cancel into a timeout: the loop still ends, not retrying."""
    entered = asyncio.Event()

    async def step() -> None:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise TimeoutError from None

    loop = BackgroundLoop("swallower", step, backoff=NO_JITTER)
    loop.start()
    await asyncio.wait_for(entered.wait(), 1.0)
    started = time.monotonic()
    await loop.stop()
    assert time.monotonic() - started < 0.5
    assert not loop.running
    assert loop.failures == 0  # the swallowed cancel was not taken for a failure


async def test_stop_is_bounded_when_a_step_hangs(caplog: pytest.LogCaptureFixture) -> None:
    """A step that ignores the cancel for a while: stop gives up after its timeout and says so."""
    entered, finished = asyncio.Event(), asyncio.Event()

    async def step() -> None:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.5)  # ignoring the cancel, then ending
            finished.set()

    loop = BackgroundLoop("hangs", step, backoff=NO_JITTER, stop_timeout=0.1)
    loop.start()
    await asyncio.wait_for(entered.wait(), 1.0)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="actors.runtime.background"):
        await loop.stop()
    assert time.monotonic() - started < 0.4
    assert "hangs did not stop within" in caplog.text
    await asyncio.wait_for(finished.wait(), 2.0)
    await asyncio.sleep(0.01)
    assert not loop.running  # and the loop ended when the step did
