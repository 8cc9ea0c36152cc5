"""Background loops: each one a named asyncio task, started, backed off and stopped the same way.

A loop runs its `step` again and again until stopped. Between successful steps it waits `period`
seconds (jittered if asked, so workers started together do not act together for ever), or less if
its wake-up event is set (the outbox's NOTIFY). A step that raises is logged and tried again after
a back-off that grows with each failure up to a cap and is jittered (workers that failed together,
say when Postgres went away, do not come back together); a success resets it. Nothing but `stop`
ends a loop: an exception never kills it silently.

`stop` cancels the task and waits for it, bounded: a step that hangs must not hang a worker's stop.
A step that swallows the cancel (nats-py's fetch turns it into a timeout) still ends the loop, as
the loop checks for a pending cancel after every step.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("actors.runtime.background")


@dataclass(frozen=True)
class Backoff:
    """Pauses that double from `initial` up to `cap`, each shortened at random by up to `jitter`."""

    initial: float
    cap: float
    jitter: float = 0.2  # a fraction: the pause is drawn from [1 - jitter, 1] × its nominal length

    def pause(self, failures: int) -> float:
        """The pause after the `failures`-th failure in a row (1 for the first); never above `cap`."""
        nominal = min(self.initial * 2.0 ** max(failures - 1, 0), self.cap)
        return nominal * random.uniform(1.0 - self.jitter, 1.0)


class BackgroundLoop:
    """Runs `step` as the task `name` until stopped, `period` apart, backing off between failures."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        *,
        backoff: Backoff,
        period: float = 0.0,
        period_jitter: float = 0.0,
        wake: asyncio.Event | None = None,
        logger: logging.Logger = log,
        stop_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.failures = 0  # in a row, since the last success
        self._step = step
        self._backoff = backoff
        self._period = period
        self._period_jitter = period_jitter  # a fraction: the wait is drawn from period × [1 ± it]
        self._wake = wake
        self._log = logger
        self._stop_timeout = stop_timeout
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop and wait for it to end, at most `stop_timeout` seconds."""
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=self._stop_timeout)
        if not done:
            self._log.warning("%s did not stop within %.0f s", self.name, self._stop_timeout)

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except Exception as exc:
                _raise_if_cancelling()  # the step turned our cancel into an error
                self.failures += 1
                pause = self._backoff.pause(self.failures)
                self._log.warning("%s: %r; retrying in %.1f s", self.name, exc, pause)
                await asyncio.sleep(pause)
                continue
            _raise_if_cancelling()  # the step swallowed our cancel
            self.failures = 0
            await self._wait()

    async def _wait(self) -> None:
        """Wait out the period, or until woken; a wake-up that came during the step counts."""
        period = self._period * random.uniform(1.0 - self._period_jitter, 1.0 + self._period_jitter)
        if self._wake is None:
            await asyncio.sleep(period)  # even 0 lets the other tasks run between two steps
            return
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=period)
        except TimeoutError:
            pass
        # Cleared only now, just before the next step: whatever woke us is handled by that step.
        self._wake.clear()


def _raise_if_cancelling() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
