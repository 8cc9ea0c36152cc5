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

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel import spans
from otel.export import LineExporter

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
            exporters.append(LineExporter(sys.stdout))
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
