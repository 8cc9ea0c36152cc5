"""The uvicorn settings of every HTTP process: the edge, and the bench's direct app and gateway.

Written once so that the benchmark's "same server defaults" holds by construction: the bench's
apps (bench/direct_app.py, bench/http_hop.py) build their server here too, with only the port
their own.
"""

from __future__ import annotations

import math

import uvicorn
from litestar import Litestar

from actors.contracts.config import Settings


def uvicorn_config(app: Litestar, settings: Settings, *, port: int | None = None) -> uvicorn.Config:
    """One process serving `app` on `settings.http_host`, at `port` (else `settings.http_port`)."""
    # "auto" picks uvloop and httptools when they are installed (uvicorn[standard]), else the
    # pure-Python ones. Access logs are off: one line per request costs more than it tells.
    # SIGTERM/SIGINT: uvicorn stops accepting, closes idle keep-alive connections, lets requests
    # in flight finish (for up to drain_timeout, then cancels them), then runs the lifespan's
    # shutdown, which drains the NATS connection those requests needed.
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port if port is None else port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=math.ceil(settings.drain_timeout),
        # uvicorn's default believes X-Forwarded-For from 127.0.0.1, so a client on this machine
        # could name any address and skip the limits: the edge reads that header itself, and
        # only from LOANS_TRUSTED_PROXIES (edge/client_address.py).
        proxy_headers=False,
        # uvicorn's records go to the process's own handlers (the edge's JSON one, otel/logs.py),
        # else to Python's last-resort handler: warnings and errors on stderr
        log_config=None,
    )
