"""OTEL_TRACES_EXPORTER decides the exporters; a missing or unknown one means no tracing, said aloud."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from otel.export import LineExporter, one_line
from otel.setup import _exporters


def test_none_is_the_default_and_installs_nothing() -> None:
    assert _exporters("none") == [] and _exporters("") == []


def test_console_and_otlp_may_be_combined() -> None:
    exporters = _exporters("console, otlp")
    assert [type(e).__name__ for e in exporters] == ["LineExporter", "OTLPSpanExporter"]
    assert isinstance(exporters[0], LineExporter)


def test_otlp_without_its_package_warns_and_falls_back_to_none(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    assert _exporters("otlp") == []
    assert "otlp extra" in caplog.text


def test_an_unknown_exporter_is_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert _exporters("zipkin") == []
    assert "OTEL_TRACES_EXPORTER=zipkin" in caplog.text


def test_the_console_line_is_the_sdk_span_json_on_one_line() -> None:
    """`console` writes each span as ReadableSpan.to_json would, only cheaper (and on one line)."""
    finished: list[ReadableSpan] = []

    class Keep(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            finished.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider(resource=Resource.create({"service.name": "edge"}))
    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        link = Link(parent.get_span_context(), {"why": "because"})
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT, links=[link]) as child:
            child.set_attribute("n", 3)
            child.record_exception(ValueError("boom"))
            child.set_status(Status(StatusCode.ERROR, "it broke"))
    for span in finished:
        line = one_line(span)
        assert line.endswith("\n") and line.count("\n") == 1
        ours, sdk = json.loads(line), json.loads(span.to_json(indent=None))
        for record in (ours, sdk):  # whole seconds: msgspec leaves out ".000000"; the instant is the same
            for key in ("start_time", "end_time"):
                record[key] = datetime.fromisoformat(record[key])
            for event in record["events"]:
                event["timestamp"] = datetime.fromisoformat(event["timestamp"])
        assert ours == sdk


def test_a_batch_is_written_once_after_what_was_printed_before() -> None:
    """The console exporter writes a batch in one call: its lines, in order, after earlier text."""
    provider = TracerProvider(resource=Resource.create({"service.name": "edge"}))
    kept: list[ReadableSpan] = []

    class Keep(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            kept.extend(spans)
            return SpanExportResult.SUCCESS

    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    for name in ("one", "two", "three"):
        provider.get_tracer("test").start_span(name).end()

    class Counted(io.BytesIO):
        writes = 0

        def write(self, data: Any) -> int:
            Counted.writes += 1
            return super().write(data)

    raw = Counted()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    out.write("printed first\n")  # buffered in the text layer, not yet in `raw`
    assert LineExporter(out).export(kept) == SpanExportResult.SUCCESS
    lines = raw.getvalue().decode().splitlines()
    assert lines[0] == "printed first"
    assert [json.loads(line)["name"] for line in lines[1:]] == ["one", "two", "three"]
    assert Counted.writes == 2  # the text layer's flush, then the batch


@pytest.mark.parametrize(
    "start",
    [
        1_700_000_000_000_000_000,  # a whole second (the SDK writes ".000000")
        1_700_000_000_999_999_700,  # rounds up into the next second
        1_700_000_000_123_456_500,  # half a microsecond: rounded as a float of seconds rounds
        1_700_000_059_000_000_001,
    ],
)
def test_the_console_line_has_the_sdk_trace_state_and_times_to_the_character(start: int) -> None:
    """The line's times and trace state are the very strings to_json writes, edge cases included."""
    state = TraceState([("vendor", "a1"), ("other", "b=2")])
    context = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(1), trace_state=state)
    span = ReadableSpan(
        "op",
        context=context,
        parent=SpanContext(0xABC, 0x123, is_remote=True),
        resource=Resource.create({"service.name": "edge"}),
        attributes={"n": 3, "s": 'quote " and \\'},
        kind=SpanKind.CONSUMER,
        links=[Link(context, {"why": "because"})],
        status=Status(StatusCode.ERROR, "it broke"),
        start_time=start,
        end_time=start + 1_500,
    )
    assert json.loads(one_line(span)) == json.loads(span.to_json(indent=None))
