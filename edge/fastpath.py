"""The forwarded routes answered straight from ASGI, in front of Litestar.

A forwarded route does the same few things every time (edge/forward.py `ask`): the work is in
the actor. Litestar's routing, middleware stack, request and response objects cost the edge about
as much CPU as the NATS call itself (bench profile), so requests that match a forwarded route
exactly are answered here, by the same `ask`, with the same error envelope, body limit and
metrics, and with tracing on their own HTTP server span (Litestar's OpenTelemetry middleware
costs about as much again). Everything else goes to Litestar as before: login and signup (their
own limits), /health, /ready, /metrics, the OpenAPI document, an unknown path or method (404/405).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

from opentelemetry.trace import StatusCode

from edge.context import Edge
from edge.endpoint import Endpoint
from edge.errors import ErrorAnswer, PayloadTooLarge, render_error
from edge.forward import admit, ask
from otel import spans
from otel.setup import enabled as tracing

_JSON = (b"content-type", b"application/json")
# A path id in the fast path is a UUID in its usual spelling; anything else (another spelling, a
# static route's name such as GET /api/loan/customer-loan, which Litestar answers 405) is left to
# Litestar, so the answer stays what its router gives.
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A path date likewise in its one spelling, YYYY-MM-DD (an impossible day is the Endpoint's 404).
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Plain ASGI: Litestar's TypedDict unions for these say nothing more that helps here.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    ep: Endpoint
    template: str  # the full path with `{name}` parameters: the metrics' route label
    pattern: re.Pattern[str] | None  # None for a path without parameters


class FastPath:
    def __init__(self, edge: Edge, routes: Iterable[tuple[str, Endpoint]]) -> None:
        """`routes`: (mount prefix, endpoint) of every route whose handler only forwards."""
        self.edge = edge
        self.limit = edge.settings.max_body_bytes
        self.static: dict[tuple[str, str], Route] = {}
        self.dynamic: dict[str, list[Route]] = {}
        for prefix, ep in routes:
            template = prefix + ep.path
            if ep.path_params:
                self.dynamic.setdefault(ep.method, []).append(Route(ep, template, _pattern(ep, template)))
            else:
                self.static[(ep.method, template)] = Route(ep, template, None)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer `scope` if it is a forwarded route's (True), else leave it to Litestar (False)."""
        if scope["type"] != "http":
            return False
        found = self._match(scope["method"], scope["path"])
        if found is None:
            return False
        route, path = found
        started = time.perf_counter()
        status = 500
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            if tracing():
                with spans.http_server(scope["method"], route.template, scope["path"], headers) as span:
                    status = await self._respond(route, path, scope, headers, receive, send)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)
            else:
                status = await self._respond(route, path, scope, headers, receive, send)
        finally:
            self.edge.metrics.observe_http(
                scope["method"], route.template, status, time.perf_counter() - started
            )
        return True

    async def _respond(
        self,
        route: Route,
        path: dict[str, str],
        scope: Scope,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
    ) -> int:
        status, answer_headers, body = await self._answer(route, path, scope, headers, receive)
        await send({"type": "http.response.start", "status": status, "headers": answer_headers})
        await send({"type": "http.response.body", "body": body})
        return status

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        route = self.static.get((method, path))
        if route is not None:
            return route, {}
        for route in self.dynamic.get(method, ()):
            assert route.pattern is not None
            matched = route.pattern.fullmatch(path)
            if matched is not None:
                return route, matched.groupdict()
        return None

    async def _answer(
        self, route: Route, path: dict[str, str], scope: Scope, headers: dict[str, str], receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        ep = route.ep
        try:
            # the client's address, already worked out by the app (edge/client_address.py)
            client = scope["client"][0] if scope.get("client") else ""
            admit(self.edge, client)
            body = await self._body(receive, headers) if ep.has_body else b""
            query = _query(scope.get("query_string", b""))
            status, reply = await ask(self.edge, ep, headers, path, query, body)
        except Exception as exc:  # the answer Litestar's exception handler would give (edge/errors.py)
            return _error(render_error(exc, scope["method"], scope["path"]))
        return status, [_JSON, (b"content-length", str(len(reply)).encode())], reply

    async def _body(self, receive: Receive, headers: Mapping[str, str]) -> bytes:
        """The request body, refused (413) past the edge's limit: by Content-Length at once, else
        as soon as what arrived is over it."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            raise PayloadTooLarge()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise PayloadTooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _pattern(ep: Endpoint, template: str) -> re.Pattern[str]:
    """`template` as a regex whose groups are its path parameters, each in its one spelling."""

    def group(name: re.Match[str]) -> str:
        return f"(?P<{name[1]}>{_DATE if name[1] in ep.date_params else _UUID})"

    return re.compile(re.sub(r"\\{(\w+)\\}", group, re.escape(template)))


@lru_cache(1024)  # clients repeat the same few query strings (page=1&page_size=20); so does Litestar
def _query(query_string: bytes) -> Mapping[str, str]:
    """Query parameters as Litestar's `Request.query_params` reads them: the first of a repeat wins.
    Read-only (one cached mapping answers every request with the same query string)."""
    # What Litestar's request does: latin-1 for the raw bytes, UTF-8 for %-escapes, blanks kept.
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, separator="&")
    return MappingProxyType(dict(reversed(pairs)))


def _error(answer: ErrorAnswer) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status, body, extra = answer
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
    return status, headers, body
