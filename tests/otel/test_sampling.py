"""A request outside the sample costs no span anywhere, and its trace context still travels, so no
process downstream starts a sampled trace of its own for it (OTEL_TRACES_SAMPLER=parentbased_*)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.trace import SpanKind

from actors.contracts.config import Settings
from otel import spans as otel_spans
from otel.propagation import extract
from tests.support.loans import random_principal
from tests.support.people import Cast
from tests.support.trees import Spans, trace_id, wait_for

pytestmark = pytest.mark.anyio
CREATE = "/api/loan/customer-loan"
UNSAMPLED_TRACE = "5bf92f3577b34da6a3ce929d0e0e4737"


async def test_a_request_outside_the_sample_records_no_span_but_carries_its_context(
    client: httpx.AsyncClient, people: Cast, settings: Settings, spans: InMemorySpanExporter
) -> None:
    unsampled = {"traceparent": f"00-{UNSAMPLED_TRACE}-00f067aa0ba902b7-00"}
    body = {"customer_id": people.customer.id, "principal": random_principal(), "months": 12}
    response = await client.post(CREATE, json=body, headers={**people.agent.headers, **unsampled})
    assert response.status_code == 201, response.text
    # A sampled request after it, through the same edge, worker, relay and consumers: once its
    # event is consumed, the first request's spans would have been exported long before.
    response = await client.post(
        CREATE, json={**body, "principal": random_principal()}, headers=people.agent.headers
    )
    assert response.status_code == 201, response.text
    event = f"{settings.events_prefix}.loans.loan.created"

    def sampled_one_consumed(found: Spans) -> bool:
        edges = {trace_id(s) for s in found if s.name == f"POST {CREATE}"}
        return any(
            s.kind == SpanKind.CONSUMER and {link.context.trace_id for link in s.links} & edges for s in found
        )

    finished = await wait_for(spans, sampled_one_consumed)
    unsampled_id = int(UNSAMPLED_TRACE, 16)
    assert [s.name for s in finished if trace_id(s) == unsampled_id] == []  # edge, actor, SQL, outbox
    assert not [s for s in finished if any(link.context.trace_id == unsampled_id for link in s.links)]
    assert any(s.name == f"send {event}" for s in finished)  # the sampled one's relay: it is recorded


@pytest.fixture
def sampler(span_exporter: InMemorySpanExporter) -> Iterator[type[TracerProvider]]:
    """The spans module taken over by another provider for one test, the session's one given back."""
    session = trace.get_tracer_provider()
    assert isinstance(session, TracerProvider)
    yield TracerProvider
    otel_spans.configure(session)


def _provider(sampler: Sampler) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel_spans.configure(provider)
    return provider, exporter


def test_a_dropped_root_passes_an_unsampled_context_down_the_whole_path(sampler: object) -> None:
    _, exporter = _provider(ParentBased(ALWAYS_OFF))
    sent: dict[str, str] = {}
    with otel_spans.http_server("GET", "/x", "/x", {}) as edge:
        client = otel_spans.nats_client("loans.list", sent)
        with otel_spans.nats_server("loans.list", "loans", sent) as actor, otel_spans.sql("SELECT 1", "db"):
            event: dict[str, str] = {}
            with otel_spans.event_created("events.x", "1", event):
                pass
            with (
                otel_spans.event_sent("events.x", "1", event),
                otel_spans.event_processed("events.x", "d", "1", event),
            ):
                pass
        client.end()
    assert exporter.get_finished_spans() == ()
    context = edge.get_span_context()
    assert context.is_valid and not context.trace_flags.sampled
    flags = int(context.trace_flags)  # not sampled; the SDK may set the "random" bit (0x02)
    assert flags & 0x01 == 0
    assert sent["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    assert event["traceparent"] == sent["traceparent"]
    assert actor.get_span_context().trace_id == context.trace_id


def test_a_sampler_that_does_not_follow_its_parent_still_decides_each_span(sampler: object) -> None:
    """ALWAYS_ON samples a child of an unsampled parent: nothing is skipped for it."""
    _, exporter = _provider(ALWAYS_ON)
    unsampled = {"traceparent": f"00-{UNSAMPLED_TRACE}-00f067aa0ba902b7-00"}
    with otel_spans.nats_server("loans.list", "loans", unsampled):
        pass
    [span] = exporter.get_finished_spans()
    assert span.name == "process loans.list" and f"{trace_id(span):032x}" == UNSAMPLED_TRACE


def test_a_sampled_parent_is_continued_under_a_parent_based_sampler(sampler: object) -> None:
    _, exporter = _provider(ParentBased(ALWAYS_OFF))
    sampled = {"traceparent": f"00-{UNSAMPLED_TRACE}-00f067aa0ba902b7-01"}
    with otel_spans.nats_server("loans.list", "loans", sampled), otel_spans.sql("SELECT 1", "db"):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == ["SELECT db", "process loans.list"]
    assert trace.get_current_span(extract(sampled)).get_span_context().trace_flags.sampled
