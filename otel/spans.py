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
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from otel.propagation import extract, inject

tracer = trace.get_tracer("loan-actors")


def _messaging(subject: str, operation: str) -> dict[str, str]:
    return {
        "messaging.system": "nats",
        "messaging.destination.name": subject,
        "messaging.operation.type": operation,
    }


def http_server(
    method: str, route: str, path: str, headers: Mapping[str, str]
) -> AbstractContextManager[Span]:
    """The edge's HTTP SERVER span for a forwarded route (edge/fastpath.py; Litestar's middleware
    makes the same for the rest), continuing a `traceparent` the client sent."""
    attributes = {"http.request.method": method, "http.route": route, "url.path": path}
    return tracer.start_as_current_span(
        f"{method} {route}",
        context=extract(headers),
        kind=SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,  # the fast path turns every failure into an answer itself
        set_status_on_exception=False,
    )


def nats_client(subject: str, headers: dict[str, str]) -> Span:
    """A started CLIENT span for one request on `subject`; its context replaces any in `headers`."""
    span = tracer.start_span(f"send {subject}", kind=SpanKind.CLIENT, attributes=_messaging(subject, "send"))
    inject(headers, trace.set_span_in_context(span))
    return span


def nats_server(subject: str, group: str, headers: Mapping[str, str] | None) -> AbstractContextManager[Span]:
    """The actor's SERVER span for one request, continuing the caller's trace."""
    attributes = {**_messaging(subject, "process"), "messaging.consumer.group.name": group}
    return tracer.start_as_current_span(
        f"process {subject}",
        context=extract(headers),
        kind=SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,  # the runtime decides what an error is (a 4xx is not)
        set_status_on_exception=False,
    )


@contextmanager
def event_created(subject: str, event_id: str, headers: dict[str, str]) -> Iterator[Span]:
    """PRODUCER span around writing an event to the outbox; `headers` get its context for the relay."""
    attributes = {**_messaging(subject, "create"), "messaging.message.id": event_id}
    name = f"create {subject}"
    with tracer.start_as_current_span(name, kind=SpanKind.PRODUCER, attributes=attributes) as span:
        inject(headers)
        yield span


def event_sent(subject: str, event_id: str, headers: Mapping[str, str]) -> AbstractContextManager[Span]:
    """The relay's publish of one outbox row, in the trace of the request that wrote it."""
    attributes = {**_messaging(subject, "send"), "messaging.message.id": event_id}
    return tracer.start_as_current_span(
        f"send {subject}", context=extract(headers), kind=SpanKind.CLIENT, attributes=attributes
    )


def event_processed(
    subject: str, durable: str, event_id: str, headers: Mapping[str, str] | None
) -> AbstractContextManager[Span]:
    """A consumer's CONSUMER span: a trace of its own, linked to the span that created the event."""
    producer = trace.get_current_span(extract(headers)).get_span_context()
    attributes = {
        **_messaging(subject, "process"),
        "messaging.consumer.group.name": durable,
        "messaging.message.id": event_id,
    }
    return tracer.start_as_current_span(
        f"process {subject}",
        context=otel_context.Context(),  # a root: the event may be processed long after the request
        kind=SpanKind.CONSUMER,
        links=[Link(producer)] if producer.is_valid else None,
        attributes=attributes,
    )


def sql(query: str, database: str | None) -> AbstractContextManager[Span]:
    """A CLIENT span for one statement (its text has placeholders, never values)."""
    operation = _operation(query)
    attributes = {"db.system.name": "postgresql", "db.query.text": query, "db.operation.name": operation}
    if database:
        attributes["db.namespace"] = database
    name = f"{operation} {database}" if database else operation
    return tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)


@functools.lru_cache(maxsize=1024)
def _operation(query: str) -> str:
    # The statements are constants, so the first keyword is worked out once per statement.
    words = query.split(None, 1)
    return words[0].rstrip(";").upper() if words else "SQL"


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
