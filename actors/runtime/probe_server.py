"""A worker's own small HTTP server: `/metrics` for Prometheus, `/health` and `/ready` for probes.

On the worker's event loop (asyncio streams, GET only, one request per connection), so a probe
sees the loop itself: a worker whose loop is stuck fails its liveness probe. `/ready` is 200 while
the NATS connection is up and the pool lends a connection that answers, else 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST

from actors.runtime.metrics import WorkerMetrics

log = logging.getLogger("actors.runtime.probe_server")
REQUEST_TIMEOUT = 5.0  # seconds a client may take to send its request line and headers
Answer = tuple[int, str, bytes]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Unavailable"}


class ProbeServer:
    def __init__(self, metrics: WorkerMetrics, ready: Callable[[], Awaitable[bool]]) -> None:
        self.metrics = metrics
        self.ready = ready
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on `host:port` (0: a free port); returns the port bound."""
        self._server = await asyncio.start_server(self._connection, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            status, content_type, body = await self._answer(head.split(b"\r\n", 1)[0])
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            status, content_type, body = 400, "text/plain", b"bad request\n"
        try:
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except ConnectionError:
            pass  # the prober has gone: nothing to tell it
        finally:
            writer.close()

    async def _answer(self, request_line: bytes) -> Answer:
        parts = request_line.decode("latin-1").split(" ")
        if len(parts) != 3:
            return 400, "text/plain", b"bad request\n"
        method, target, _ = parts
        path = target.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"GET only\n"
        if path == "/metrics":
            await self.metrics.refresh()
            return 200, CONTENT_TYPE_LATEST, self.metrics.render()
        if path == "/health":
            return 200, "application/json", b'{"status":"alive"}'
        if path == "/ready":
            if await self.ready():
                return 200, "application/json", b'{"status":"ready"}'
            return 503, "application/json", b'{"status":"unavailable"}'
        return 404, "text/plain", b"not found\n"
