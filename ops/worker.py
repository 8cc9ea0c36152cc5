"""`loans worker <actor>`: one worker process, serving until SIGTERM, then draining."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack

from actors.bus.heap import settle_heap
from actors.contracts.config import Settings
from actors.runtime.worker import start_actor
from ops.registry import deployable

log = logging.getLogger("ops.worker")


async def run_worker(name: str, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        serving = await start_actor(deployable(name), settings, stack)
        settle_heap()
        log.info("%s worker %s serving %d subjects", name, serving.micro.id, len(serving.actor.routes))
        await stop.wait()
        log.info("%s worker %s draining", name, serving.micro.id)
    log.info("%s worker stopped", name)
