"""Reading finished spans: find them, and draw a trace as an indented tree."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.support.polling import eventually

Spans = Sequence[ReadableSpan]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def one(spans: Spans, kind: SpanKind, name: str) -> ReadableSpan:
    found = [s for s in spans if s.kind == kind and s.name == name]
    assert len(found) == 1, f"{len(found)} {kind.name} spans named {name!r} in {[s.name for s in spans]}"
    return found[0]


def descendants(spans: Spans, root: ReadableSpan) -> list[ReadableSpan]:
    below, frontier = [], {span_id(root)}
    while frontier:
        children = [s for s in spans if parent_id(s) in frontier]
        below += children
        frontier = {span_id(s) for s in children}
    return below


async def wait_for(
    exporter: InMemorySpanExporter, found: Callable[[Spans], bool], seconds: float = 10.0
) -> Spans:
    """The finished spans once `found` says they hold what is awaited (spans of background work)."""

    def finished() -> Spans:
        spans = exporter.get_finished_spans()
        assert found(spans), f"not found among {[s.name for s in spans]}"
        return spans

    return await eventually(finished, timeout=seconds, what="the awaited spans did not finish")


def draw(spans: Spans, root: ReadableSpan) -> str:
    """The trace below `root` as an indented tree: kind, name, and the attributes worth a look."""
    shown = ("http.route", "http.response.status_code", "messaging.destination.name", "loans.caller.role")
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        attributes = span.attributes or {}
        notes = [f"{k}={attributes[k]}" for k in shown if k in attributes]
        if "db.query.text" in attributes:
            notes.append(" ".join(str(attributes["db.query.text"]).split())[:60])
        status = "" if span.status.is_unset else f" [{span.status.status_code.name}]"
        lines.append(f"{'  ' * depth}{span.kind.name:<8} {span.name}{status}  {' '.join(notes)}".rstrip())
        for child in sorted(
            (s for s in spans if parent_id(s) == span_id(span)), key=lambda s: s.start_time or 0
        ):
            walk(child, depth + 1)

    walk(root, 0)
    return "\n".join(lines)
