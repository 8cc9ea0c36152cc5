"""A lean span (a child of a sampled parent) ends as the SDK's own span would have."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel import spans as otel_spans
from otel.lean import LeanSpan, follows_sampled_parents


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    saved = {
        name: getattr(otel_spans, name)
        for name in ("_tracer", "_recorder", "_lean_children", "_skip_unsampled")
    }
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel_spans.configure(provider)
    yield exporter
    for name, value in saved.items():
        setattr(otel_spans, name, value)


def _work(span: trace.Span) -> None:
    span.set_attribute("n", 3)
    span.set_attribute("kept", None)  # as the SDK keeps it
    span.set_status(StatusCode.UNSET)  # changes nothing
    span.set_status(Status(StatusCode.ERROR, "it broke"))
    span.record_exception(ValueError("boom"))
    span.update_name("renamed")


def _seen(span: ReadableSpan) -> tuple[object, ...]:
    return (
        span.name,
        span.kind,
        dict(span.attributes or {}),
        span.status.status_code,
        span.status.description,
        [
            (e.name, {k: v for k, v in (e.attributes or {}).items() if k != "exception.stacktrace"})
            for e in span.events
        ],
        span.parent.span_id if span.parent else None,
        span.context.trace_id if span.context else None,
        span.resource,
        span.instrumentation_scope.name if span.instrumentation_scope else None,
    )


def test_a_lean_child_is_exported_as_the_sdks_child_would_be(exporter: InMemorySpanExporter) -> None:
    with otel_spans.nats_server("loans.list", "loans", {}) as root:
        assert isinstance(root, LeanSpan) and root.parent is None  # a root of its own
        lean = otel_spans.nats_client("users.get", {})
        assert isinstance(lean, LeanSpan)
        _work(lean)
        lean.end()
        lean.end()  # a second end is ignored
        sdk = otel_spans._tracer.start_span("send users.get", kind=SpanKind.CLIENT)
        sdk.set_attributes(otel_spans._messaging("users.get", "send"))
        _work(sdk)
        sdk.end()
    ours, theirs, _root = exporter.get_finished_spans()
    assert _seen(ours) == _seen(theirs)
    assert ours.context is not None and ours.context.span_id != theirs.context.span_id
    assert ours.end_time is not None and ours.start_time is not None and ours.end_time >= ours.start_time


def test_an_exception_in_a_lean_block_is_recorded_and_ends_the_span(exporter: InMemorySpanExporter) -> None:
    with otel_spans.nats_server("loans.list", "loans", {}), pytest.raises(RuntimeError):
        with otel_spans.sql("SELECT 1", "db"):
            raise RuntimeError("the database went away")
    statement = next(s for s in exporter.get_finished_spans() if s.name == "SELECT db")
    assert statement.status.status_code is StatusCode.ERROR
    assert statement.status.description == "RuntimeError: the database went away"
    assert [e.name for e in statement.events] == ["exception"]


class _Tagging(Sampler):
    """Samples everything, and adds an attribute: a lean span would lose it."""

    def should_sample(self, *args: object, **kwargs: object) -> SamplingResult:
        from opentelemetry.sdk.trace.sampling import Decision

        return SamplingResult(Decision.RECORD_AND_SAMPLE, {"sampled.by": "tagging"})

    def get_description(self) -> str:
        return "tagging"


def test_only_a_sampler_that_samples_every_sampled_child_as_it_is_gets_lean_spans() -> None:
    assert follows_sampled_parents(TracerProvider(sampler=ParentBased(ALWAYS_ON)))
    assert not follows_sampled_parents(TracerProvider(sampler=_Tagging()))
    assert not follows_sampled_parents(
        TracerProvider(sampler=ParentBased(ALWAYS_ON, remote_parent_sampled=_Tagging()))
    )


def test_roots_are_sampled_by_the_providers_sampler_as_the_sdk_would(exporter: InMemorySpanExporter) -> None:
    """TraceIdRatioBased decides by the trace id alone, so each root's decision can be checked."""
    saved = {
        name: getattr(otel_spans, name)
        for name in ("_tracer", "_recorder", "_lean_children", "_skip_unsampled")
    }
    kept = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.3)))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    otel_spans.configure(provider)
    try:
        roots = []
        for _ in range(500):
            with otel_spans.http_server("GET", "/x", "/x", {}) as root:
                otel_spans.nats_client("loans.list", {}).end()
            roots.append(root.get_span_context())
    finally:
        for name, value in saved.items():
            setattr(otel_spans, name, value)
    bound = TraceIdRatioBased.get_bound_for_rate(0.3)
    sampled = [c for c in roots if c.trace_flags.sampled]
    assert [c.trace_flags.sampled for c in roots] == [
        (c.trace_id & TraceIdRatioBased.TRACE_ID_LIMIT) < bound for c in roots
    ]
    assert 100 < len(sampled) < 200
    exported = kept.get_finished_spans()
    assert len(exported) == 2 * len(sampled)  # each sampled root and its child; nothing of the others
    assert {s.context.trace_id for s in exported if s.context} == {c.trace_id for c in sampled}
