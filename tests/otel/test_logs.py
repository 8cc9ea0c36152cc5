"""Log lines are JSON objects that carry the trace and span ids of the span they were written in."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel.logs import JsonFormatter


def _line(exc_info: Any = None) -> dict[str, object]:
    record = logging.LogRecord(
        "actors.test", logging.WARNING, __file__, 1, "loan %s refused", ("L1",), exc_info
    )
    decoded: dict[str, object] = json.loads(JsonFormatter("loans").format(record))
    return decoded


def test_a_line_inside_a_span_carries_its_trace_and_span_ids(spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("tests").start_as_current_span("work") as span:
        line = _line()
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}" and line["span_id"] == f"{context.span_id:016x}"
    assert line["level"] == "WARNING" and line["service"] == "loans" and line["logger"] == "actors.test"
    assert line["message"] == "loan L1 refused" and str(line["time"]).endswith("+00:00")


def test_a_line_outside_spans_has_no_ids_and_renders_the_exception() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        line = _line(sys.exc_info())
    assert "trace_id" not in line
    assert "ValueError: bad value" in str(line["exc_info"]) and "Traceback" in str(line["exc_info"])
