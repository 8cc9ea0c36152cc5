"""The one handler behind every forwarded route: authenticate, build the payload, call, wrap."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler

from actors.contracts.headers import AUTHORIZATION_HEADER, KEY_HEADER
from edge.context import Edge, edge_of
from edge.endpoint import Endpoint
from edge.errors import RateLimited
from edge.openapi import docs_for

# Request headers an actor may need, forwarded as received (api.md: Idempotency-Key on writes).
# traceparent/tracestate go through as sent only while the edge does not trace; when it does,
# the NATS client span's context replaces them (edge/nats_call.py), continuing the same trace.
FORWARDED_HEADERS = (AUTHORIZATION_HEADER, KEY_HEADER, "traceparent", "tracestate")
_FORWARDED = tuple((name, name.lower()) for name in FORWARDED_HEADERS)


async def forward(request: Request[Any, Any, Any], ep: Endpoint) -> Response[bytes]:
    """Answer `request` by asking `ep.subject`; failures raise and become the error envelope."""
    edge = edge_of(request)
    client = request.client.host if request.client else ""
    admit(edge, client)
    body = await request.body() if ep.has_body else b""
    status, reply = await ask(edge, ep, request.headers, request.path_params, request.query_params, body)
    return Response(content=reply, media_type=MediaType.JSON, status_code=status)


def admit(edge: Edge, client: str) -> None:
    """The general per-client limit, before anything is read: 429 over it. `client` is the
    scope's client address (edge/client_address.py: X-Forwarded-For only from a trusted proxy)."""
    if edge.requests is not None:
        wait = edge.requests.take(client)
        if wait is not None:
            raise RateLimited("too many requests; try again later", retry_after=wait)


async def ask(
    edge: Edge,
    ep: Endpoint,
    headers: Mapping[str, str],
    path: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
) -> tuple[int, bytes]:
    """The success status and body for one call of `ep`, from what the HTTP request carried
    (`admit`ted already); failures raise. `headers` is looked up by lower-case names (Litestar's are
    case-insensitive; the fast path's are lower-case already).
    """
    if not ep.public:
        # A bad token stops here (401), without reaching the actor; roles are the actor's business.
        await edge.verifier.verify_header(headers.get("authorization"))
    reply = await call(edge, ep, headers, ep.payload(path, query, body))
    return ep.status_for(reply), ep.envelope(reply)


async def call(edge: Edge, ep: Endpoint, headers: Mapping[str, str], payload: bytes) -> bytes:
    """The actor's reply to `payload` on `ep.subject`, sent with the client's forwarded headers
    (its token verified already); failures raise."""
    sent = {name: value for name, key in _FORWARDED if (value := headers.get(key))}
    if ep.method != "GET" and KEY_HEADER not in sent:
        # A write the client sent without a key gets one here, before the first attempt: if that
        # attempt's reply is lost, the retry is then answered with the first result (the actor
        # stores it with the write) and never makes a second loan or user.
        sent[KEY_HEADER] = uuid.uuid4().hex
    return await edge.bus.request(
        ep.subject,
        payload,
        sent,
        retry_safe=ep.method == "GET" or KEY_HEADER in sent,
        # A password hash is slow under load, not lost: its attempt may use the whole deadline.
        attempt_timeout=edge.settings.request_timeout if ep.slow else None,
        slow=ep.slow,
    )


def route_handler(ep: Endpoint) -> HTTPRouteHandler:
    """A Litestar handler for `ep`, documented from its message Structs."""

    async def handle(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await forward(request, ep)

    return handler_for(ep)(handle)


def handler_for(ep: Endpoint) -> HTTPRouteHandler:
    """The route decorator for `ep`, for a handler that does more than forward (login)."""
    # Path ids and dates are taken as strings and checked by the Endpoint: a non-UUID or a
    # non-date is our 404, not Litestar's parse error.
    path = re.sub(r"{(\w+)}", r"{\1:str}", ep.path)
    return HTTPRouteHandler(path=path, http_method=ep.method, status_code=ep.status, **docs_for(ep))
