"""Start one replica of an actor: serve its subjects, relay its outbox, run its consumers, work
queues and periodic tasks; every part is closed (drained first) by the caller's exit stack."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from actors.bus.connection import connect
from actors.contracts.config import Settings
from actors.runtime.actor import Deployable
from actors.runtime.consumers import consumers_for
from actors.runtime.db import create_pool
from actors.runtime.events import ensure_streams
from actors.runtime.metrics import WorkerMetrics
from actors.runtime.observed import start_probes
from actors.runtime.outbox import OutboxRelay
from actors.runtime.periodic import periodic_loops
from actors.runtime.serving import ServingActor, serve
from actors.runtime.sweeper import Sweeper
from actors.runtime.work_queue import ensure_work_stream, work_queues_for

log = logging.getLogger("actors.runtime.worker")
STEP_SECONDS = 5.0  # at most this for each step of a stop after the requests' drain


async def start_actor(deployable: Deployable, settings: Settings, stack: AsyncExitStack) -> ServingActor[Any]:
    """Connect and start serving; everything opened is closed by `stack`, drained first."""
    name = deployable.name
    nc = await connect(settings, f"{name}-worker")
    stack.push_async_callback(_step, "NATS connection drained", nc.drain, STEP_SECONDS)
    pool = await create_pool(settings, name)
    stack.push_async_callback(_step, "pool closed", pool.close, STEP_SECONDS)
    sweeper = Sweeper(pool, name, settings.idempotency_sweep_seconds)
    await sweeper.start()
    stack.push_async_callback(_step, "sweeper stopped", sweeper.stop, STEP_SECONDS)
    actor = deployable.actor
    state, verifier = await deployable.build(settings, nc)
    # What keeps the verifier current (keys refreshed, revocations followed) stops before the drain.
    stack.push_async_callback(_step, "token verifier closed", verifier.close, STEP_SECONDS)
    js = nc.jetstream()
    await _create_missing(js, settings, ensure_streams, settings.events_stream, settings.dlq_stream)
    for consumer in consumers_for(actor.subscriptions, name, settings, js, pool, state):
        await consumer.start()
        stopped = f"consumer {consumer.sub.durable} stopped"
        stack.push_async_callback(_step, stopped, consumer.stop, STEP_SECONDS)
    relay = OutboxRelay(settings, name, pool, js)
    await relay.start()
    # after the drain: flushes what the last requests wrote
    stack.push_async_callback(_step, "outbox flushed", relay.stop, STEP_SECONDS)
    # Stopped before the relay's flush, so what their last steps wrote is published.
    if actor.work:
        await _create_missing(js, settings, ensure_work_stream, settings.work_stream)
    for queue in work_queues_for(actor.work, settings, js, pool, state):
        await queue.start()
        stack.push_async_callback(_step, f"work queue {queue.sub.durable} stopped", queue.stop, STEP_SECONDS)
    for loop in periodic_loops(actor.periodic, pool, settings, state):
        loop.start()
        stack.push_async_callback(_step, f"{loop.name} stopped", loop.stop, STEP_SECONDS)
    metrics = WorkerMetrics(name, settings.concurrency)
    serving = await serve(
        actor, nc=nc, pool=pool, state=state, settings=settings, verifier=verifier, observer=metrics.observe
    )
    stack.push_async_callback(_step, "requests drained", serving.drain, settings.drain_timeout + 1.0)
    # Stopped first: probes see the worker go (not ready) before it drains.
    probes = await start_probes(metrics, serving, pool, settings)
    stack.push_async_callback(_step, "probe server stopped", probes.stop, STEP_SECONDS)
    return serving


async def _create_missing(
    js: JetStreamContext,
    settings: Settings,
    ensure: Callable[[JetStreamContext, Settings], Awaitable[None]],
    *streams: str,
) -> None:
    """Create the streams if one is missing; leave them be if they all exist. An actor's NATS user
    may create a stream but not update one (deploy/nats-authorization.conf, issue 12 M5): bringing
    an existing stream's settings up to date is for `loans up` and the tools."""
    for stream in streams:
        try:
            await js.stream_info(stream)
        except NotFoundError:
            await ensure(js, settings)
            return


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
