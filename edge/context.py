"""What every edge handler shares: settings, the NATS bus (with its retry policy and circuit
breakers), the token verifier, the rate limiters, the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from litestar import Request

from actors.bus.tokens import TokenVerifier
from actors.contracts.config import Settings
from edge.auth import verifier_for
from edge.breaker import Breakers
from edge.metrics import EdgeMetrics
from edge.nats_call import Bus
from edge.ratelimit import LoginLimits, RequestLimiter
from edge.retry import RetryPolicy


@dataclass
class Edge:
    settings: Settings
    bus: Bus
    verifier: TokenVerifier
    logins: LoginLimits
    signups: RequestLimiter | None  # None: no signup limit (signups_per_minute = 0)
    requests: RequestLimiter | None  # None: no general limit (requests_per_minute = 0)
    metrics: EdgeMetrics

    @classmethod
    def build(cls, settings: Settings) -> Edge:
        metrics = EdgeMetrics()
        breakers = Breakers(
            settings.circuit_failures, settings.circuit_cooldown, on_change=metrics.set_circuit
        )
        bus = Bus(
            settings.request_timeout,
            metrics=metrics,
            retry=RetryPolicy.from_settings(settings),
            breakers=breakers,
        )
        per_minute = settings.requests_per_minute
        return cls(
            settings=settings,
            bus=bus,
            verifier=verifier_for(bus),
            logins=LoginLimits(
                settings.login_attempts_per_minute, settings.login_account_attempts_per_minute
            ),
            signups=RequestLimiter(settings.signups_per_minute) if settings.signups_per_minute else None,
            requests=RequestLimiter(per_minute) if per_minute else None,
            metrics=metrics,
        )


def edge_of(request: Request[Any, Any, Any]) -> Edge:
    """The Edge that create_app put in the app's state."""
    return cast(Edge, request.app.state.edge)
