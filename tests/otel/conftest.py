"""An in-memory span exporter for the tracing tests.

The workers and the edge of the session start before any of these tests, with tracing off (the
default). Every traced path checks `otel.setup.enabled()` per call, so installing a provider here
and switching tracing on for the length of one test is enough; it is switched off again after,
and the other tests keep running the untraced path, as production does by default.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel.setup import install, set_enabled


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "loans-tests"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # at once: tests read right after
    install(provider)
    set_enabled(False)
    return exporter


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test, with an empty exporter to read its spans from."""
    span_exporter.clear()
    set_enabled(True)
    try:
        yield span_exporter
    finally:
        set_enabled(False)
        span_exporter.clear()
