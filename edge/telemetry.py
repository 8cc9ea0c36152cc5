"""The edge's server span (Litestar's OpenTelemetry integration) and its HTTP metrics, in one
middleware.

Litestar runs this middleware around routing, so a span starts before the route is known; the
router's template (`scope["path_template"]`) names it when the response starts, as the HTTP
conventions ask: `PUT /api/loan/approve-reject-loan/{loan_id}`, never the raw path with its id.
With tracing off the OpenTelemetry middleware is skipped altogether and only the histogram is fed.
"""

from __future__ import annotations

import functools
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryInstrumentationMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from opentelemetry.trace import Span

from edge.metrics import EdgeMetrics
from otel.setup import enabled as tracing

UNTRACED = frozenset({"/metrics", "/health", "/ready"})  # scrapes and probes: counted, not traced
_SPAN = "loans.server_span"


@dataclass
class EdgeTelemetryConfig(OpenTelemetryConfig):
    metrics: EdgeMetrics | None = None


class EdgeTelemetry(OpenTelemetryInstrumentationMiddleware):
    def __init__(self, app: ASGIApp, config: EdgeTelemetryConfig) -> None:
        super().__init__(app=app, config=config)
        self.metrics = config.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        traced = tracing() and scope["path"] not in UNTRACED
        status = 500  # what the client sees if the app dies before answering
        started = time.perf_counter()

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if traced:
                    _name_span(scope)
            await send(message)

        try:
            if traced:
                await self.open_telemetry_middleware(scope, receive, observed)  # type: ignore[arg-type]
            else:
                await self.app(scope, receive, observed)
        finally:
            if self.metrics is not None:
                self.metrics.observe_http(
                    scope["method"], route_of(scope), status, time.perf_counter() - started
                )


def route_of(scope: Scope) -> str:
    """The route template that answered (`/api/loan/{loan_id}`), or "unmatched" for a 404."""
    template = scope.get("path_template")
    return _plain(template) if template else "unmatched"


@functools.lru_cache(maxsize=256)
def _plain(template: str) -> str:
    return re.sub(r"{(\w+):\w+}", r"{\1}", template)  # Litestar writes `{loan_id:str}`


def _name_span(scope: HTTPScope) -> None:
    span: Span | None = scope["state"].get(_SPAN)
    template = scope.get("path_template")
    if span is not None and template:
        route = _plain(template)
        span.update_name(f"{scope['method']} {route}")
        span.set_attribute("http.route", route)


def _remember_span(span: Span, scope: dict[str, Any]) -> None:
    scope.setdefault("state", {})[_SPAN] = span


def _method_only(scope: Any) -> tuple[str, dict[str, Any]]:
    # The conventions' name while the route is unknown; _name_span adds the route.
    return str(scope.get("method", "HTTP")), {}


def telemetry_middleware(metrics: EdgeMetrics) -> DefineMiddleware:
    """For `Litestar(middleware=[...])`: Litestar moves it outermost, around routing."""
    # The ASGI instrumentation reads this once, at its first use: the stable HTTP attribute names
    # (http.request.method, url.path, http.response.status_code) instead of the legacy ones.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    config = EdgeTelemetryConfig(
        metrics=metrics,
        middleware_class=EdgeTelemetry,
        exclude_spans=["receive", "send"],  # one span per ASGI message is noise, and costs
        scope_span_details_extractor=_method_only,
        server_request_hook_handler=_remember_span,
    )
    return config.middleware
