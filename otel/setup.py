"""One process's tracing, built from the standard `OTEL_*` variables.

`OTEL_TRACES_EXPORTER` is `none` (the default), `console` (one JSON span per line on stdout) or
`otlp` (OTLP over HTTP, configured by `OTEL_EXPORTER_OTLP_*`; needs the `otlp` extra), or a
comma-separated list of them. With `none` no SDK provider is installed: the API's no-op tracer
stays in place and `enabled()` is false, so the code paths that trace skip even the no-op calls.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanContext

from otel import spans

log = logging.getLogger("otel.setup")

# Read on every traced call: a plain module global is the cheapest check there is.
_enabled = False
_telemetry: Telemetry | None = None
_installed: TracerProvider | None = None


def enabled() -> bool:
    """Whether spans are being recorded in this process (false unless an exporter is configured)."""
    return _enabled


@dataclass
class Telemetry:
    """What `setup` built; `shutdown()` at exit exports the spans still buffered."""

    service_name: str
    provider: TracerProvider | None

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()  # flushes the batch processor first


def setup(service_name: str) -> Telemetry:
    """Configure tracing for this process once; later calls return the first result."""
    global _telemetry
    if _telemetry is not None:
        return _telemetry
    exporters = _exporters(os.environ.get("OTEL_TRACES_EXPORTER", "none"))
    if not exporters:
        _telemetry = Telemetry(service_name, None)
        return _telemetry
    resource = Resource.create({SERVICE_INSTANCE_ID: str(uuid.uuid4())})
    # OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) wins over the process's own name.
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    install(provider)
    _telemetry = Telemetry(str(resource.attributes[SERVICE_NAME]), provider)
    return _telemetry


def install(provider: TracerProvider) -> None:
    """Make `provider` the global one and turn tracing on (what `setup` does; tests pass their own)."""
    global _installed
    if _installed is None:
        trace.set_tracer_provider(provider)
        spans.configure(provider)
        _installed = provider
    elif _installed is not provider:
        raise RuntimeError("another tracer provider is installed already")
    set_enabled(True)


def set_enabled(on: bool) -> None:
    """Switch the traced code paths on or off; only with a provider installed can they be on."""
    global _enabled
    _enabled = on and _installed is not None


def _exporters(setting: str) -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    for name in (part.strip().lower() for part in setting.split(",")):
        if name in ("", "none"):
            continue
        if name == "console":
            exporters.append(ConsoleSpanExporter(out=sys.stdout, formatter=_one_line))
        elif name == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                log.warning("OTEL_TRACES_EXPORTER=otlp needs the otlp extra: pip install 'loan-actors[otlp]'")
                continue
            exporters.append(OTLPSpanExporter())
        else:
            log.warning("OTEL_TRACES_EXPORTER=%s is not supported (otlp, console or none)", name)
    return exporters


def _one_line(span: ReadableSpan) -> str:
    """One JSON object a line, so a file of them reads with a line loop: the fields and formats of
    the SDK's `ReadableSpan.to_json`, built without its cost (it re-parses the resource's JSON
    for every span: ~110 µs a span against ~30 µs for making the span at all)."""
    context = span.context
    parent = span.parent
    status: dict[str, str] = {"status_code": span.status.status_code.name}
    if span.status.description:
        status["description"] = span.status.description
    line: dict[str, Any] = {
        "name": span.name,
        "context": _context(context) if context is not None else None,
        "kind": str(span.kind),
        "parent_id": f"0x{parent.span_id:016x}" if parent is not None else None,
        "start_time": _iso(span.start_time),
        "end_time": _iso(span.end_time),
        "status": status,
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": e.name, "timestamp": _iso(e.timestamp), "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
        "links": [
            {"context": _context(link.context), "attributes": dict(link.attributes or {})}
            for link in span.links
        ],
        "resource": _resource(span.resource),
    }
    return _encode(line).decode() + "\n"


_encode = msgspec.json.Encoder().encode


_resources: dict[int, tuple[Resource, dict[str, Any]]] = {}


def _resource(resource: Resource) -> dict[str, Any]:
    # By identity: a process has one resource, and Resource's own hash serializes it to JSON.
    known = _resources.get(id(resource))
    if known is None or known[0] is not resource:
        known = _resources[id(resource)] = (
            resource,
            {"attributes": dict(resource.attributes), "schema_url": resource.schema_url},
        )
    return known[1]


def _context(context: SpanContext) -> dict[str, str]:
    return {
        "trace_id": f"0x{context.trace_id:032x}",
        "span_id": f"0x{context.span_id:016x}",
        "trace_state": str(list(context.trace_state.items())),
    }


def _iso(ns: int | None) -> datetime | None:
    # msgspec writes it as the SDK does (RFC 3339, UTC, "Z"), but for whole seconds' ".000000"
    return datetime.fromtimestamp(ns / 1e9, UTC) if ns is not None else None
