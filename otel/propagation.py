"""W3C trace context over NATS message headers.

nats-py hands headers over as a plain `dict[str, str]`, which is what the default getter and
setter of the propagation API work on. Every request crosses two of these hops, so the common
case is done here without the propagator: with the default propagators (W3C trace context and
baggage) and no baggage on the message, a `traceparent` of version 00 is read and written
directly, as the W3C propagator itself would. Anything else (other propagators configured, a
`baggage` header, a malformed or future-version `traceparent`) goes through `propagate`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.baggage import get_all as baggage_in
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

TRACE_HEADERS = ("traceparent", "tracestate")

# Read once: OTEL_PROPAGATORS is read once by the API too, when `propagate` is first imported.
_DEFAULT_PROPAGATORS = os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage").replace(" ", "") in (
    "tracecontext,baggage",
    "tracecontext",
)
_EMPTY = Context()
# What the W3C propagator accepts of version 00 (lower-case hex only), without its optional spaces.
_VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def inject(headers: dict[str, str], context: Context | None = None) -> None:
    """Write `context` (default: the current one) into `headers`, replacing trace headers there."""
    for name in TRACE_HEADERS:
        headers.pop(name, None)
    if _DEFAULT_PROPAGATORS and not baggage_in(context):
        span_context = trace.get_current_span(context).get_span_context()
        if span_context.is_valid:
            headers["traceparent"] = traceparent(span_context)
            if span_context.trace_state:
                headers["tracestate"] = span_context.trace_state.to_header()
        return
    propagate.inject(headers, context=context)


def traceparent(span_context: SpanContext) -> str:
    """The W3C `traceparent` header of `span_context` (version 00)."""
    # %-formatting: half the cost of an f-string here (whose TraceFlags, an int subclass, goes
    # through its own __format__), and this runs on every request, sampled or not.
    return "00-%032x-%016x-%02x" % (  # noqa: UP031  (the reason above)
        span_context.trace_id,
        span_context.span_id,
        span_context.trace_flags,
    )


def extract(headers: Mapping[str, str] | None) -> Context:
    """The context a message carries (an empty one when it carries none)."""
    if not headers:
        return _EMPTY
    if _DEFAULT_PROPAGATORS and "baggage" not in headers:
        parent = headers.get("traceparent")
        if parent is None:
            return _EMPTY
        span_context = _parse(parent, headers.get("tracestate"))
        if span_context is not None:
            return trace.set_span_in_context(NonRecordingSpan(span_context), _EMPTY)
    return propagate.extract(headers)


def _parse(parent: str, state: str | None) -> SpanContext | None:
    """A `traceparent` of version 00, or None for the propagator to judge (and refuse)."""
    match = _VERSION_00.fullmatch(parent)
    if match is None:
        return None
    trace_id, span_id = int(match[1], 16), int(match[2], 16)
    if trace_id == 0 or span_id == 0:
        return None
    return SpanContext(
        trace_id,
        span_id,
        is_remote=True,
        trace_flags=TraceFlags(int(match[3], 16)),
        trace_state=TraceState.from_header([state]) if state else None,
    )
