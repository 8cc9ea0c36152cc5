"""Service endpoints: liveness, readiness and metrics (the OpenAPI routes come from Litestar's config)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from edge.context import edge_of
from edge.metrics import CONTENT_TYPE
from edge.routes import ENDPOINTS

# Every actor the edge forwards to (a subject's first token is its actor's name); /ready wants
# each to answer $SRV.PING.
READY_ACTORS = tuple(dict.fromkeys(ep.subject.split(".", 1)[0] for ep in ENDPOINTS))


class Health(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True, omit_defaults=True):
    status: str
    missing: list[str] = []
    nats_server: str | None = None  # host:port of the NATS server (cluster node) this edge is on


async def health() -> Health:
    """Alive: the process runs and serves HTTP."""
    return Health(status="ok")


async def ready(request: Request[Any, Any, Any]) -> Response[Readiness]:
    """Ready: NATS is connected and every actor answers a ping; 503 names what is missing."""
    bus = edge_of(request).bus
    if not bus.connected:
        missing = ["nats", *READY_ACTORS]
    else:
        answers = await asyncio.gather(*(bus.ping(actor) for actor in READY_ACTORS))
        missing = [actor for actor, ok in zip(READY_ACTORS, answers, strict=True) if not ok]
    server = bus.server
    if missing:
        return Response(Readiness(status="unavailable", missing=missing, nats_server=server), status_code=503)
    return Response(Readiness(status="ready", nats_server=server), status_code=200)


async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus metrics of this edge process: HTTP and NATS request durations, circuit state."""
    return Response(edge_of(request).metrics.render(), media_type=CONTENT_TYPE)


def handlers() -> list[HTTPRouteHandler]:
    """Fresh handlers per app: Litestar sets an owner on each handler it registers."""
    tags = ["service"]
    not_ready = {503: ResponseSpec(Readiness, description="Not ready: what is missing")}
    return [
        get("/health", tags=tags, media_type=MediaType.JSON)(health),
        get("/ready", tags=tags, responses=not_ready, media_type=MediaType.JSON)(ready),
        get("/metrics", tags=tags, media_type=CONTENT_TYPE)(metrics),
    ]
