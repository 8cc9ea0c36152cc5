"""Periodic tasks: something every worker of an actor does now and then, by itself.

`@actor.every(name, period)` registers `task(pool, settings, state)`; `period(settings)` is the
seconds between two runs, or None to not run at all in this deployment (a setting turns the task
off). Every worker runs it, jittered so that workers started together do not all act at once:
a task must be harmless when several workers run it at the same moment (the automatic close of
business starts a run under a row lock, and a second start of the same run finds it started).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from actors.contracts.config import Settings
from actors.runtime.background import BackgroundLoop, Backoff

log = logging.getLogger("actors.runtime.periodic")
S = TypeVar("S")
PeriodicTask = Callable[[asyncpg.Pool, Settings, S], Awaitable[None]]
RETRY = Backoff(initial=1.0, cap=60.0)


@dataclass(frozen=True)
class Periodic(Generic[S]):
    name: str
    period: Callable[[Settings], float | None]
    task: PeriodicTask[S]


def periodic_loops(
    tasks: list[Periodic[Any]], pool: asyncpg.Pool, settings: Settings, state: Any
) -> list[BackgroundLoop]:
    """The loops of the tasks this deployment runs (not started)."""
    loops = []
    for periodic in tasks:
        period = periodic.period(settings)
        if period is None:
            continue

        async def step(periodic: Periodic[Any] = periodic) -> None:
            await periodic.task(pool, settings, state)

        loops.append(
            BackgroundLoop(periodic.name, step, backoff=RETRY, period=period, period_jitter=0.2, logger=log)
        )
    return loops
