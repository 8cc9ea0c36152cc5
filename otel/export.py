"""The `console` exporter: one JSON object a line, a batch at a time.

The SDK's ConsoleSpanExporter writes each span through the text layer on its own (a write call,
an encode and, unbuffered, a system call per span) and formats it with `ReadableSpan.to_json`,
which re-serializes the resource for every span. Here a batch becomes one bytes object, written
with one call, in the fields and formats of `to_json`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, BinaryIO, TextIO

import msgspec
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState

from otel.lean import LeanSpan


class LineExporter(SpanExporter):
    """Writes each batch of spans to `out` (stdout, by default a file or a pipe) in one call."""

    def __init__(self, out: TextIO) -> None:
        self._text = out
        self._out: BinaryIO | None = getattr(out, "buffer", None)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = b"".join([_line(span) for span in spans])
        if self._out is not None:
            self._text.flush()  # anything printed as text before goes first
            self._out.write(data)
            self._out.flush()
        else:
            self._text.write(data.decode())
            self._text.flush()
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def one_line(span: ReadableSpan) -> str:
    """The span as `ReadableSpan.to_json` has it, on one line."""
    return _line(span).decode()


def _line(span: ReadableSpan) -> bytes:
    """One JSON object a line, so a file of them reads with a line loop: the fields, order and
    formats of the SDK's `ReadableSpan.to_json`, built without its cost (it re-parses the
    resource's JSON for every span: ~110 µs a span). Profiled, building one dict per span for a
    JSON encoder still took ~12 µs, three times the cost of making the span: so the line is joined
    from pieces, the ones that repeat (resource, kind, an unset status, an empty trace state)
    encoded once, and only names and attributes go through the encoder."""
    context = span.context
    parent = span.parent
    events = span.events
    links = span.links
    return b"".join(
        (
            b'{"name":',
            _encode(span.name),
            b',"context":',
            _context(context) if context is not None else b"null",
            b',"kind":',
            _kind(span.kind),
            b',"parent_id":',
            f'"0x{parent.span_id:016x}"'.encode() if parent is not None else b"null",
            b',"start_time":',
            _iso(span.start_time),
            b',"end_time":',
            _iso(span.end_time),
            b',"status":',
            _status(span.status),
            b',"attributes":',
            _attributes(span),
            b',"events":',
            _encode([_event(e) for e in events]) if events else b"[]",
            b',"links":',
            _encode([_link(link) for link in links]) if links else b"[]",
            b',"resource":',
            _resource(span.resource),
            b"}\n",
        )
    )


_encode = msgspec.json.Encoder().encode


def _attributes(span: ReadableSpan) -> bytes:
    if type(span) is LeanSpan:  # ended, so its dict changes no more: no copy needed
        return _encode(span._attributes)
    return _encode(dict(span.attributes or {}))


def _event(event: Event) -> dict[str, Any]:
    return {
        "name": event.name,
        "timestamp": msgspec.Raw(_iso(event.timestamp)),
        "attributes": dict(event.attributes or {}),
    }


def _link(link: Link) -> dict[str, Any]:
    return {"context": msgspec.Raw(_context(link.context)), "attributes": dict(link.attributes or {})}


_resources: dict[int, tuple[Resource, bytes]] = {}


def _resource(resource: Resource) -> bytes:
    # By identity: a process has one resource, and Resource's own hash serializes it to JSON.
    known = _resources.get(id(resource))
    if known is None or known[0] is not resource:
        encoded = _encode({"attributes": dict(resource.attributes), "schema_url": resource.schema_url})
        known = _resources[id(resource)] = (resource, encoded)
    return known[1]


# By identity (enum members are singletons; hashing one runs Python code), encoded once.
_KINDS = {id(kind): _encode(str(kind)) for kind in SpanKind}
_BARE_STATUSES = {id(code): _encode({"status_code": code.name}) for code in StatusCode}


def _kind(kind: SpanKind) -> bytes:
    return _KINDS[id(kind)]


def _status(status: Status) -> bytes:
    if status.description:
        return _encode({"status_code": status.status_code.name, "description": status.description})
    return _BARE_STATUSES[id(status.status_code)]


def _context(context: SpanContext) -> bytes:
    state = context.trace_state
    return (
        f'{{"trace_id":"0x{context.trace_id:032x}","span_id":"0x{context.span_id:016x}",'
        f'"trace_state":{_trace_state(state) if state else _NO_STATE}}}'
    ).encode()


_NO_STATE = '"[]"'


def _trace_state(state: TraceState) -> str:
    return _encode(repr(state)).decode()  # what to_json writes: the TraceState's repr


# The last whole second formatted, and its text: a span's start and end, and the spans of one
# batch, mostly fall in the same second (export runs on the batch processor's one thread).
_second: tuple[int, str] = (-1, "")


def _iso(ns: int | None) -> bytes:
    """`ns` as the SDK's `ns_to_iso_str` has it (a float of seconds rounded to microseconds, half
    to even as `datetime.fromtimestamp` rounds; "%Y-%m-%dT%H:%M:%S.%fZ"), as a JSON string."""
    global _second
    if ns is None:
        return b"null"
    seconds = ns / 1e9
    whole = math.floor(seconds)
    micros = round((seconds - whole) * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f'"{_second[1]}.{micros:06d}Z"'.encode()
