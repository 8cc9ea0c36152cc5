"""Wiring a worker's metrics to what it runs, and its probe server to the settings."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.runtime.actor import Actor
from actors.runtime.metrics import Durable, WorkerMetrics
from actors.runtime.probe_server import ProbeServer
from actors.runtime.serving import ServingActor

log = logging.getLogger("actors.runtime.observed")
READY_TIMEOUT = 1.0  # seconds the pool may take to lend a connection and run SELECT 1


def durables_of(actor: Actor[Any], settings: Settings) -> list[Durable]:
    """The durable consumers every worker of `actor` pulls from: its event and work consumers."""
    events = [Durable(settings.events_stream, sub.durable) for sub in actor.subscriptions]
    return events + [Durable(settings.work_stream, work.durable) for work in actor.work]


async def start_probes(
    metrics: WorkerMetrics, serving: ServingActor[Any], pool: asyncpg.Pool, settings: Settings
) -> ProbeServer:
    """Serve /metrics, /health and /ready for this worker on the settings' metrics host and port."""
    nc: Client = serving.nc
    metrics.watch(
        nc=nc,
        js=nc.jetstream(),
        pool=pool,
        schema=serving.actor.name,
        durables=durables_of(serving.actor, settings),
        dlq_stream=settings.dlq_stream,
        readouts=serving.actor.gauges,
        in_flight=lambda: serving.in_flight,
    )

    async def ready() -> bool:
        if not nc.is_connected:
            return False
        try:
            async with asyncio.timeout(READY_TIMEOUT), pool.acquire() as con:
                return bool(await con.fetchval("SELECT 1") == 1)
        except Exception:  # any failure to get an answer from the database is "not ready"
            return False

    server = ProbeServer(metrics, ready)
    port = await server.start(settings.metrics_host, settings.metrics_port)
    log.info("%s worker metrics on http://%s:%d/metrics", serving.actor.name, settings.metrics_host, port)
    return server
