"""One worker process: serve one actor's subjects, relay its outbox, run its consumers; drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from nats.aio.client import Client

from actors.bus.connection import connect
from actors.bus.heap import settle_heap
from actors.bus.tokens import TokenVerifier
from actors.contracts.config import Settings
from actors.runtime.consumers import consumers_for
from actors.runtime.db import create_pool
from actors.runtime.events import ensure_streams
from actors.runtime.outbox import OutboxRelay
from actors.runtime.serving import Actor, ServingActor
from actors.runtime.sweeper import Sweeper

log = logging.getLogger("actors.runtime.worker")
STEP_SECONDS = 5.0  # at most this for each step of a stop after the requests' drain
Builder = Callable[[Settings, Client], Awaitable[tuple[Actor[Any], Any, TokenVerifier]]]


def builder_for(name: str) -> Builder:
    if name == "users":
        from actors.users.service import build

        return build
    if name == "loans":
        from actors.loans.service import build as build_loans

        return build_loans
    raise ValueError(f"no actor named {name!r}")


async def start_actor(name: str, settings: Settings, stack: AsyncExitStack) -> ServingActor[Any]:
    """Connect and start serving; everything opened is closed by `stack`, drained first."""
    nc = await connect(settings, f"{name}-worker")
    stack.push_async_callback(_step, "NATS connection drained", nc.drain, STEP_SECONDS)
    pool = await create_pool(settings, name)
    stack.push_async_callback(_step, "pool closed", pool.close, STEP_SECONDS)
    sweeper = Sweeper(pool, name, settings.idempotency_sweep_seconds)
    await sweeper.start()
    stack.push_async_callback(_step, "sweeper stopped", sweeper.stop, STEP_SECONDS)
    actor, state, verifier = await builder_for(name)(settings, nc)
    js = nc.jetstream()
    await ensure_streams(js, settings)
    for consumer in consumers_for(actor.subscriptions, name, settings, js, pool, state):
        await consumer.start()
        stopped = f"consumer {consumer.sub.durable} stopped"
        stack.push_async_callback(_step, stopped, consumer.stop, STEP_SECONDS)
    relay = OutboxRelay(settings, name, pool, js)
    await relay.start()
    # after the drain: flushes what the last requests wrote
    stack.push_async_callback(_step, "outbox flushed", relay.stop, STEP_SECONDS)
    serving = await actor.serve(nc=nc, pool=pool, state=state, settings=settings, verifier=verifier)
    stack.push_async_callback(_step, "requests drained", serving.drain, settings.drain_timeout + 1.0)
    return serving


async def _step(what: str, stop: Callable[[], Awaitable[Any]], seconds: float) -> None:
    """One step of a worker's stop, bounded: a step that hangs must not keep the worker from exiting."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(stop(), seconds)
    except TimeoutError:
        log.warning("stop: gave up waiting after %.0f s until %s", seconds, what)
        return
    except Exception:
        log.warning("stop: failed before %s", what, exc_info=True)
        return
    log.info("stop: %s in %.2f s", what, time.monotonic() - started)


async def run_worker(name: str, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        serving = await start_actor(name, settings, stack)
        settle_heap()
        log.info("%s worker %s serving %d subjects", name, serving.micro.id, len(serving.actor.routes))
        await stop.wait()
        log.info("%s worker %s draining", name, serving.micro.id)
    log.info("%s worker stopped", name)
