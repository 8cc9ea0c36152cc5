"""What every edge handler shares: settings, the NATS bus, the token verifier, the login limiter,
the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from litestar import Request

from actors.config import Settings
from actors.tokens import TokenVerifier
from edge.auth import verifier_for
from edge.metrics import EdgeMetrics
from edge.nats_call import Bus
from edge.ratelimit import FailureLimiter


@dataclass
class Edge:
    settings: Settings
    bus: Bus
    verifier: TokenVerifier
    login_failures: FailureLimiter
    metrics: EdgeMetrics

    @classmethod
    def build(cls, settings: Settings) -> Edge:
        metrics = EdgeMetrics()
        bus = Bus(settings.request_timeout, metrics=metrics)
        return cls(
            settings=settings,
            bus=bus,
            verifier=verifier_for(bus),
            login_failures=FailureLimiter(settings.login_attempts_per_minute, window=60.0),
            metrics=metrics,
        )


def edge_of(request: Request[Any, Any, Any]) -> Edge:
    """The Edge that create_app put in the app's state."""
    return cast(Edge, request.app.state.edge)
