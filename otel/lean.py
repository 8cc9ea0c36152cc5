"""Recording spans of our own, ended into the SDK's own span processors.

Profiled under load, the SDK's `Tracer.start_span` and its span cost about 18 µs a span on this
machine: the sampler, attribute validation into locked bounded containers, a lock per change, the
processors' hooks. A child of a sampled parent under a `parentbased_*` sampler is always sampled
(setup asks the sampler so, it does not assume it), and the attributes the runtime sets are a
handful of strings and numbers it builds itself. So such a span is this plain object, and ends as
an SDK `ReadableSpan` handed to the provider's processors: batching, export and every exporter
stay the SDK's. A root (the edge's server span, a consumer's span) asks the provider's sampler,
with the arguments, ids and flags the SDK's Tracer would use, so the configured sampler decides
each trace; one it drops costs an id, a sampler call and a non-recording span.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from time import time_ns
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

log = logging.getLogger("otel.lean")
_UNSET = Status(StatusCode.UNSET)


class Recorder:
    """What every lean span of one provider shares: its processors, resource, scope and ids."""

    __slots__ = ("new_span_id", "new_trace_id", "processor", "random_ids", "resource", "sampler", "scope")

    def __init__(
        self, processor: SpanProcessor, provider: TracerProvider, scope: InstrumentationScope
    ) -> None:
        self.processor = processor
        self.resource: Resource = provider.resource
        self.scope = scope
        self.sampler = provider.sampler
        self.new_span_id = provider.id_generator.generate_span_id
        self.new_trace_id = provider.id_generator.generate_trace_id
        self.random_ids = provider.id_generator.is_trace_id_random()

    @classmethod
    def of(cls, provider: TracerProvider, scope: InstrumentationScope) -> Recorder | None:
        # The SDK keeps its processors in a private field; without it, spans stay the SDK's own.
        processor = getattr(provider, "_active_span_processor", None)
        return cls(processor, provider, scope) if isinstance(processor, SpanProcessor) else None

    def root(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue],
        context: Context | None,
        links: Sequence[Link] | None,
    ) -> trace.Span:
        """A span that starts a trace, sampled by the provider's sampler as the SDK's Tracer does
        (its flags, its trace state, its attributes); a dropped one is a non-recording span."""
        trace_id = self.new_trace_id()
        result = self.sampler.should_sample(context, trace_id, name, kind, attributes, links)
        flags = TraceFlags.SAMPLED if result.decision is Decision.RECORD_AND_SAMPLE else TraceFlags.DEFAULT
        if self.random_ids:
            flags |= TraceFlags.RANDOM_TRACE_ID
        span_context = SpanContext(
            trace_id,
            self.new_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=result.trace_state,
        )
        if result.decision is Decision.DROP:
            return trace.NonRecordingSpan(span_context)
        span = LeanSpan(self, name, kind, dict(result.attributes), span_context, None, list(links or ()))
        self.processor.on_start(span, parent_context=context)  # type: ignore[arg-type]
        return span

    def child(
        self, name: str, kind: SpanKind, attributes: Mapping[str, AttributeValue], parent: SpanContext
    ) -> LeanSpan:
        context = SpanContext(
            parent.trace_id,
            self.new_span_id(),
            is_remote=False,
            trace_flags=parent.trace_flags,
            trace_state=parent.trace_state,
        )
        span = LeanSpan(self, name, kind, dict(attributes), context, parent, [])
        self.processor.on_start(span)  # type: ignore[arg-type]  # processors read it as a span
        return span


class LeanSpan(trace.Span, ReadableSpan):
    """A started, recording span that is its own `ReadableSpan` once ended, as the SDK's `Span`
    is: `end()` hands this very object to the processors, rather than building a second one per
    span (with the console line joined from pieces, otel/export.py, a sampled GET's spans went
    from 535,600 to 438,700 instructions under callgrind). Its fields are the ones ReadableSpan's
    properties read, set here without ReadableSpan's constructor; nothing changes them once the
    span has ended."""

    # Narrower than ReadableSpan has them: this span makes and owns each of them.
    _attributes: dict[str, AttributeValue]
    _context: SpanContext
    _links: list[Link]

    def __init__(
        self,
        recorder: Recorder,
        name: str,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        context: SpanContext,
        parent: SpanContext | None,
        links: list[Link],
    ) -> None:
        self._recorder = recorder
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._context = context
        self._parent = parent
        self._events: list[Event] = []
        self._links = links
        self._status = _UNSET
        self._resource = recorder.resource
        self._instrumentation_scope = recorder.scope
        self._instrumentation_info = None
        self._start_time = time_ns()
        self._end_time: int | None = None

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self._end_time is None:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        if self._end_time is None:
            self._events.append(Event(name, attributes, timestamp or time_ns()))

    def add_link(self, context: SpanContext, attributes: Any = None) -> None:
        if self._end_time is None and context.is_valid:
            self._links.append(Link(context, attributes))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: OK is final, UNSET changes nothing.
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        new = status if isinstance(status, Status) else Status(status, description)
        if new.status_code is not StatusCode.UNSET:
            self._status = new

    def record_exception(
        self,
        exception: BaseException,
        attributes: Any = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        kind = type(exception)
        module = kind.__module__
        recorded: dict[str, Any] = {
            "exception.type": f"{module}.{kind.__qualname__}"
            if module and module != "builtins"
            else kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            recorded.update(attributes)
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            log.debug("span %s ended twice", self._name)
            return
        self._end_time = end_time or time_ns()
        self._recorder.processor.on_end(self)


def follows_sampled_parents(provider: TracerProvider) -> bool:
    """Whether the provider's sampler samples every child of a sampled parent, adding nothing."""
    for remote in (True, False):
        parent = SpanContext(
            0x1, 0x1, is_remote=remote, trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED)
        )
        result = provider.sampler.should_sample(
            trace.set_span_in_context(trace.NonRecordingSpan(parent)), parent.trace_id, "probe"
        )
        if (
            result.decision is not Decision.RECORD_AND_SAMPLE
            or result.attributes
            or result.trace_state != parent.trace_state
        ):
            return False
    return True


def drops_unsampled_children(provider: TracerProvider) -> bool:
    """Whether the provider's sampler drops every child of an unsampled parent (every
    `parentbased_*` sampler does; `always_on` does not)."""
    return all(
        provider.sampler.should_sample(
            trace.set_span_in_context(trace.NonRecordingSpan(parent)), parent.trace_id, "probe"
        ).decision
        is Decision.DROP
        for parent in (
            SpanContext(0x1, 0x1, is_remote=remote, trace_flags=TraceFlags(TraceFlags.DEFAULT))
            for remote in (True, False)
        )
    )
