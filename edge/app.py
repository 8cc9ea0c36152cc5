"""The Litestar app, its lifespan (NATS connection, JWKS warm-up, drain) and the uvicorn entry point."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from litestar import Litestar
from litestar.datastructures import State
from nats.aio.client import Client

from actors.bus.connection import connect
from actors.bus.heap import settle_heap
from actors.contracts.config import Settings
from edge.auth import keep_current, preload_jwks
from edge.client_address import Network, parse_trusted, resolve_scope
from edge.context import Edge
from edge.errors import exception_to_http_response
from edge.fastpath import FastPath
from edge.openapi import openapi_config
from edge.routes import ACTOR_ROUTES, FORWARDED, console, service
from edge.routes.legacy import LegacyIds
from edge.server import uvicorn_config
from edge.telemetry import telemetry_middleware

log = logging.getLogger("edge.app")

STARTUP_WAIT = 10.0  # seconds the app waits at start for NATS and the JWKS before serving anyway


def create_app(
    settings: Settings, *, nc: Client | None = None, startup_wait: float = STARTUP_WAIT
) -> Litestar:
    """The edge app. With `nc`, it uses that connection and leaves closing it to the caller."""
    if nc is None:
        settings.require_nats_url()  # a missing URL is a configuration error: fail now, by name
    trusted = parse_trusted(settings.trusted_proxies)  # a bad CIDR stops the process, by name
    edge = Edge.build(settings)
    edge.bus.nc = nc

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # NATS or the users worker may come up after the edge: wait a while for the connection and
        # the keys, then serve anyway while the task keeps trying (/health answers, /ready says
        # what is missing, and the verifier fetches the keys on the first token instead).
        warm_up = asyncio.create_task(_warm_up(edge, settings, own_connection=nc is None))
        await asyncio.wait({warm_up}, timeout=startup_wait)
        if warm_up.done():
            warm_up.result()  # a failure this early (a malformed URL, say) stops the process
        settle_heap()
        try:
            yield
        finally:
            warm_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warm_up
            await edge.verifier.close()
            if nc is None and edge.bus.nc is not None:
                await _drain(edge.bus.nc)

    app = EdgeApp(
        route_handlers=[
            *(h for routes in ACTOR_ROUTES for h in routes.handlers()),
            *service.handlers(),
            *console.handlers(),  # the web console's static files (design.md §15)
        ],
        lifespan=[lifespan],
        state=State({"edge": edge}),
        exception_handlers={Exception: exception_to_http_response},
        middleware=[telemetry_middleware(edge.metrics)],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        logging_config=None,  # Litestar's default would replace the process's JSON log handler
    )
    app.fast = FastPath(edge, FORWARDED)
    app.legacy_ids = LegacyIds(FORWARDED)
    app.trusted_proxies = trusted
    return app


class EdgeApp(Litestar):
    """Litestar, with the forwarded routes answered in front of it (edge/fastpath.py), and the
    client's address worked out before either (edge/client_address.py)."""

    fast: FastPath | None = None
    legacy_ids: LegacyIds | None = None  # the monolith's integer ids on the old paths (§13)
    trusted_proxies: tuple[Network, ...] = ()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.trusted_proxies and scope["type"] in ("http", "websocket"):
            resolve_scope(scope, self.trusted_proxies)
        if self.legacy_ids is not None and scope["type"] == "http":
            self.legacy_ids.rewrite(scope)
        if self.fast is not None and await self.fast.serve(scope, receive, send):
            return
        await super().__call__(scope, receive, send)


async def _warm_up(edge: Edge, settings: Settings, *, own_connection: bool) -> None:
    if own_connection:
        # nats_conn retries for ever (reconnect attempts unlimited), so this returns once NATS is up.
        edge.bus.nc = await connect(settings, "edge")
        log.info("connected to NATS")
    await preload_jwks(edge.bus, edge.verifier, budget=STARTUP_WAIT)
    await keep_current(edge.bus, edge.verifier, settings)  # revocations and key refreshes


async def _drain(nc: Client) -> None:
    # Let in-flight requests get their replies, then close; a broken connection just closes.
    try:
        await nc.drain()
    except Exception:
        log.debug("NATS drain failed; closing", exc_info=True)
        await nc.close()


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket other edges may bind too (SO_REUSEPORT): the kernel spreads new
    connections over every process listening on the port. Only processes of the same user may
    join, so another local user cannot take a share of the edge's connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn_config(create_app(settings), settings)


def serve(settings: Settings) -> None:
    """Run the edge until SIGINT/SIGTERM (what `loans edge` calls); a drained stop returns normally."""
    # Once shut down, uvicorn raises the signal that stopped it again, under the handler that was
    # there before it started: with the default one the process would die of it (exit -15) and
    # skip what follows (the CLI's span export). A handler that does nothing makes it an exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _already_stopped)
    sockets = [shared_socket(settings.http_host, settings.http_port)] if settings.http_reuse_port else None
    uvicorn.Server(_uvicorn_config(settings)).run(sockets=sockets)


def _already_stopped(signum: int, frame: object) -> None:
    log.info("edge stopped by signal %d", signum)


async def main(settings: Settings) -> None:
    """Run the edge inside an already running event loop."""
    await uvicorn.Server(_uvicorn_config(settings)).serve()
