"""W3C trace context over NATS message headers, with the global propagator.

nats-py hands headers over as a plain `dict[str, str]`, which is what the default getter and
setter of the propagation API work on.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import propagate
from opentelemetry.context import Context

TRACE_HEADERS = ("traceparent", "tracestate")


def inject(headers: dict[str, str], context: Context | None = None) -> None:
    """Write `context` (default: the current one) into `headers`, replacing trace headers there."""
    for name in TRACE_HEADERS:
        headers.pop(name, None)
    propagate.inject(headers, context=context)


def extract(headers: Mapping[str, str] | None) -> Context:
    """The context a message carries (an empty one when it carries none)."""
    return propagate.extract(headers or {})
