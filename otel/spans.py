"""The spans along one request's path, named and attributed after the semantic conventions.

edge (HTTP server) → `send <subject>` (NATS CLIENT) → `process <subject>` (actor SERVER) →
one span per SQL statement → `create <event>` (PRODUCER: the event written to the outbox, its
context stored with the row) → `send <event>` (the relay's publish, a child of the create span)
→ `process <event>` (CONSUMER, a new trace LINKED to the create span).

A 4xx is the caller's mistake, not the service's: it is kept as attributes and the span stays
unset; a 5xx, a timeout or an unexpected exception sets ERROR and records the exception.
Callers check `otel.setup.enabled()` first, so none of this runs when tracing is off.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanKind,
    Status,
    StatusCode,
)

from otel.lean import Recorder, drops_unsampled_children, follows_sampled_parents
from otel.propagation import extract, inject

_tracer: trace.Tracer = trace.get_tracer("loan-actors")
# True once the installed sampler is known to drop every child of an unsampled parent (every
# `parentbased_*` sampler does): then a span under such a parent is not made at all, the parent's
# own non-recording span stands for it, and a request outside the sample costs a few dict lookups.
_skip_unsampled = False
# Spans of our own (otel/lean.py) ended into the provider's processors: every root, and a child of
# a sampled parent once the sampler is known to sample every such child as it is.
_recorder: Recorder | None = None
_lean_children = False


def configure(provider: TracerProvider) -> None:
    """Take the tracer from `provider` itself (no proxy per call) and learn what its sampler does
    with a sampled and an unsampled parent, by asking it (the SDK's samplers keep that in private
    fields)."""
    global _tracer, _skip_unsampled, _recorder, _lean_children
    _tracer = provider.get_tracer("loan-actors")
    _recorder = Recorder.of(provider, InstrumentationScope("loan-actors"))
    _lean_children = follows_sampled_parents(provider)
    _skip_unsampled = drops_unsampled_children(provider)


class _Current:
    """A span made current for a `with` block and ended after it: what the SDK's
    `start_as_current_span` does, as one object instead of three generator context managers."""

    __slots__ = ("record", "span", "token")

    def __init__(self, span: Span, record: bool) -> None:
        self.span = span
        self.record = record

    def __enter__(self) -> Span:
        self.token = otel_context.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        otel_context.detach(self.token)
        # As the API's `use_span`: Exception only (GeneratorExit and cancellation are not errors).
        if self.record and isinstance(exc, Exception) and self.span.is_recording():
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        self.span.end()


def _start(
    name: str,
    kind: SpanKind,
    attributes: dict[str, str],
    context: Context | None = None,
    links: Sequence[Link] | None = None,
) -> Span:
    """A started span, or the unsampled parent itself when the sampler would drop the child anyway."""
    parent = trace.get_current_span(context)
    known = parent.get_span_context()
    if not known.is_valid:
        if _recorder is not None:
            return _recorder.root(name, kind, attributes, context, links)
    elif known.trace_flags.sampled:
        if _recorder is not None and _lean_children and not links:
            return _recorder.child(name, kind, attributes, known)
    elif _skip_unsampled and isinstance(parent, NonRecordingSpan):
        return parent
    return _tracer.start_span(name, context=context, kind=kind, attributes=attributes, links=links)


@functools.lru_cache(maxsize=1024)
def _messaging(subject: str, operation: str, group: str | None = None) -> dict[str, str]:
    # Per subject, built once: the SDK copies the dict into the span, so sharing it is safe.
    attributes = {
        "messaging.system": "nats",
        "messaging.destination.name": subject,
        "messaging.operation.type": operation,
    }
    if group is not None:
        attributes["messaging.consumer.group.name"] = group
    return attributes


@functools.lru_cache(maxsize=1024)
def _name(operation: str, subject: str) -> str:
    return f"{operation} {subject}"


def http_server(method: str, route: str, path: str, headers: Mapping[str, str]) -> _Current:
    """The edge's HTTP SERVER span for a forwarded route (edge/fastpath.py; Litestar's middleware
    makes the same for the rest), continuing a `traceparent` the client sent. A 4xx or 5xx is
    set by the fast path, which turns every failure into an answer itself."""
    attributes = {"http.request.method": method, "http.route": route, "url.path": path}
    span = _start(_name(method, route), SpanKind.SERVER, attributes, extract(headers))
    return _Current(span, record=False)


def nats_client(subject: str, headers: dict[str, str]) -> Span:
    """A started CLIENT span for one request on `subject`; its context replaces any in `headers`."""
    span = _start(_name("send", subject), SpanKind.CLIENT, _messaging(subject, "send"))
    inject(headers, trace.set_span_in_context(span))
    return span


def nats_server(subject: str, group: str, headers: Mapping[str, str] | None) -> _Current:
    """The actor's SERVER span for one request, continuing the caller's trace. The runtime
    decides what an error is (a 4xx is not), so exceptions are not recorded here."""
    attributes = _messaging(subject, "process", group)
    span = _start(_name("process", subject), SpanKind.SERVER, attributes, extract(headers))
    return _Current(span, record=False)


class _Created(_Current):
    """The PRODUCER span of an event: on entering, its context goes into the event's headers."""

    __slots__ = ("headers",)

    def __init__(self, span: Span, headers: dict[str, str]) -> None:
        super().__init__(span, record=True)
        self.headers = headers

    def __enter__(self) -> Span:
        span = super().__enter__()
        inject(self.headers)
        return span


def event_created(subject: str, event_id: str, headers: dict[str, str]) -> _Current:
    """PRODUCER span around writing an event to the outbox; `headers` get its context for the relay."""
    attributes = {**_messaging(subject, "create"), "messaging.message.id": event_id}
    return _Created(_start(_name("create", subject), SpanKind.PRODUCER, attributes), headers)


def event_sent(subject: str, event_id: str, headers: Mapping[str, str]) -> _Current:
    """The relay's publish of one outbox row, in the trace of the request that wrote it."""
    attributes = {**_messaging(subject, "send"), "messaging.message.id": event_id}
    span = _start(_name("send", subject), SpanKind.CLIENT, attributes, extract(headers))
    return _Current(span, record=True)


_ROOT = Context()


def event_processed(subject: str, durable: str, event_id: str, headers: Mapping[str, str] | None) -> _Current:
    """A consumer's CONSUMER span: a trace of its own, linked to the span that created the event.
    An event of a request outside the sample is processed outside it too (when the sampler drops
    unsampled parents), so a sampled trace's links are all there and the rest cost nothing."""
    producer = trace.get_current_span(extract(headers))
    known = producer.get_span_context()
    if _skip_unsampled and known.is_valid and not known.trace_flags.sampled:
        return _Current(producer, record=False)
    attributes = {**_messaging(subject, "process", durable), "messaging.message.id": event_id}
    # A root: the event may be processed long after the request, so it is sampled on its own.
    links = [Link(known)] if known.is_valid else None
    span = _start(_name("process", subject), SpanKind.CONSUMER, attributes, _ROOT, links)
    return _Current(span, record=True)


def sql(query: str, database: str | None) -> _Current:
    """A CLIENT span for one statement (its text has placeholders, never values)."""
    name, attributes = _statement(query, database)
    return _Current(_start(name, SpanKind.CLIENT, attributes), record=True)


@functools.lru_cache(maxsize=1024)
def _statement(query: str, database: str | None) -> tuple[str, dict[str, str]]:
    # The statements are constants: name and attributes are worked out once per statement.
    words = query.split(None, 1)
    operation = words[0].rstrip(";").upper() if words else "SQL"
    attributes = {"db.system.name": "postgresql", "db.query.text": query, "db.operation.name": operation}
    if database:
        attributes["db.namespace"] = database
    return (f"{operation} {database}" if database else operation), attributes


def refused(span: Span, status: int, code: str) -> None:
    """A 4xx answer: what was refused, as attributes; the span's status stays unset."""
    span.set_attribute("loans.error.status", status)
    span.set_attribute("loans.error.code", code)


def failed(span: Span, status: int, exc: BaseException | None, description: str) -> None:
    """A failure of the service itself: ERROR, the exception recorded, `error.type` set."""
    span.set_attribute("loans.error.status", status)
    span.set_attribute("error.type", type(exc).__qualname__ if exc is not None else str(status))
    if exc is not None:
        span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, description))
