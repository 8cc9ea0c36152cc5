"""The edge's Prometheus metrics, in one registry per Edge (one Edge per process).

prometheus-client rather than OTel metrics: the edge is scraped, nothing is pushed, and a
labelled histogram observation here costs about a microsecond.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Seconds; local requests take milliseconds, so the low end is finer than the library's default.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._http = Histogram(
            "loans_edge_http_request_duration_seconds",
            "HTTP requests the edge answered, by method, route template and status",
            ("method", "route", "status"),
            registry=self.registry,
            buckets=BUCKETS,
        )
        self._nats = Histogram(
            "loans_edge_nats_request_duration_seconds",
            "NATS requests the edge made, by subject and outcome "
            "(ok, the error status an actor answered, no_responders, timeout, unavailable, circuit_open)",
            ("subject", "outcome"),
            registry=self.registry,
            buckets=BUCKETS,
        )
        # Set by the breakers (edge/breaker.py): every subject the edge has called has a value.
        self.circuit = Gauge(
            "loans_edge_circuit_state",
            "Circuit state per subject: 0 closed, 1 half-open, 2 open",
            ("subject",),
            registry=self.registry,
        )
        self._retries = Counter(
            "loans_edge_nats_retries",
            "NATS requests the edge sent again, by subject and the outcome of the attempt before",
            ("subject", "outcome"),
            registry=self.registry,
        )
        # labels() validates and locks on every call; the label sets are few, so keep the children.
        self._http_children: dict[tuple[str, str, int], Histogram] = {}
        self._nats_children: dict[tuple[str, str], Histogram] = {}

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._http_children.get(key)
        if child is None:
            child = self._http_children[key] = self._http.labels(method, route, str(status))
        child.observe(seconds)

    def observe_nats(self, subject: str, outcome: str, seconds: float) -> None:
        key = (subject, outcome)
        child = self._nats_children.get(key)
        if child is None:
            child = self._nats_children[key] = self._nats.labels(subject, outcome)
        child.observe(seconds)

    def set_circuit(self, subject: str, state: int) -> None:
        self.circuit.labels(subject).set(state)

    def retried(self, subject: str, outcome: str) -> None:
        self._retries.labels(subject, outcome).inc()

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
