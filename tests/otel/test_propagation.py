"""The direct reading and writing of `traceparent` agrees with the W3C propagator it stands in for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel.propagation import extract, inject

W3C = TraceContextTextMapPropagator()
HEX = "0123456789abcdef"


def _seen(context_of: SpanContext) -> tuple[int, int, int, bool, list[tuple[str, str]]]:
    return (
        context_of.trace_id,
        context_of.span_id,
        int(context_of.trace_flags),
        context_of.is_remote,
        list(context_of.trace_state.items()),
    )


def _extracted(headers: dict[str, str]) -> tuple[int, int, int, bool, list[tuple[str, str]]]:
    return _seen(trace.get_current_span(extract(headers)).get_span_context())


def _by_w3c(headers: dict[str, str]) -> tuple[int, int, int, bool, list[tuple[str, str]]]:
    return _seen(trace.get_current_span(W3C.extract(headers)).get_span_context())


def _hex(size: int) -> st.SearchStrategy[str]:
    return st.text(HEX, min_size=size, max_size=size)


# Mostly well-formed, with every way of being wrong mixed in: other versions, upper case, zero
# ids, signs and spaces that int() would take, a field too short or too long, stray text.
_field = st.one_of(_hex(2), _hex(32), _hex(16), st.text("0123456789abcdefABCDEF+_ -gz", max_size=34))
_traceparents = st.one_of(
    st.builds(lambda t, s, f: f"00-{t}-{s}-{f}", _hex(32), _hex(16), _hex(2)),
    st.builds(lambda v, t, s, f: f"{v}-{t}-{s}-{f}", _field, _field, _field, _field),
    st.sampled_from(
        [
            "00-" + "0" * 32 + "-" + "1" * 16 + "-01",
            "00-" + "1" * 32 + "-" + "0" * 16 + "-01",
            "00-" + "A" * 32 + "-" + "1" * 16 + "-01",
            "ff-" + "1" * 32 + "-" + "1" * 16 + "-01",
            "01-" + "1" * 32 + "-" + "1" * 16 + "-01-extra",
            "00-" + "1" * 32 + "-" + "1" * 16 + "-01-extra",
            " 00-" + "1" * 32 + "-" + "1" * 16 + "-01",
            "00-+" + "1" * 31 + "-" + "1" * 16 + "-01",
        ]
    ),
)


@given(_traceparents, st.one_of(st.none(), st.sampled_from(["a=1", "a=1,b=2", "bad state", ""])))
def test_extract_reads_what_the_w3c_propagator_reads(parent: str, state: str | None) -> None:
    headers = {"traceparent": parent} if state is None else {"traceparent": parent, "tracestate": state}
    assert _extracted(headers) == _by_w3c(headers)


def test_no_headers_and_no_traceparent_give_an_empty_context() -> None:
    for headers in (None, {}, {"authorization": "Bearer x"}):
        assert not trace.get_current_span(extract(headers)).get_span_context().is_valid


@given(
    st.integers(1, 2**128 - 1),
    st.integers(1, 2**64 - 1),
    st.sampled_from([0x00, 0x01, 0x02, 0x03]),  # 0x02: the W3C level 2 "random" flag
    st.sampled_from([None, "a=1", "k=v,x=y"]),
)
def test_inject_writes_what_the_w3c_propagator_writes(
    trace_id: int, span_id: int, flags: int, state: str | None
) -> None:
    span = NonRecordingSpan(
        SpanContext(
            trace_id,
            span_id,
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=TraceState.from_header([state]) if state else None,
        )
    )
    context = trace.set_span_in_context(span)
    ours = {"traceparent": "00-stale", "tracestate": "stale=1", "other": "kept"}
    theirs: dict[str, str] = {"other": "kept"}
    inject(ours, context)
    W3C.inject(theirs, context)
    assert ours == theirs


def test_inject_without_a_span_writes_no_trace_headers() -> None:
    headers = {"traceparent": "00-stale", "other": "kept"}
    inject(headers, trace.set_span_in_context(trace.INVALID_SPAN))
    assert headers == {"other": "kept"}
