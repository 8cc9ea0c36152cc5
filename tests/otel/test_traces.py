"""One HTTP request is one trace: edge → NATS client → actor → SQL → event; consumers link to it."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from actors.contracts.config import Settings
from tests.support.loans import random_principal
from tests.support.people import Cast
from tests.support.trees import Spans, descendants, draw, one, parent_id, span_id, trace_id, wait_for

pytestmark = pytest.mark.anyio
CREATE = "/api/loan/customer-loan"


def _database(settings: Settings) -> str:
    return settings.database_url_for("loans").rsplit("/", 1)[1].split("?")[0]


async def _create_loan(client: httpx.AsyncClient, people: Cast, **headers: str) -> httpx.Response:
    body = {"customer_id": people.customer.id, "principal": random_principal(), "months": 12}
    return await client.post(CREATE, json=body, headers={**people.agent.headers, **headers})


async def test_a_loan_request_is_one_trace_from_the_edge_to_the_event_publish(
    client: httpx.AsyncClient, people: Cast, settings: Settings, spans: InMemorySpanExporter
) -> None:
    response = await _create_loan(client, people)
    assert response.status_code == 201, response.text
    event = f"{settings.events_prefix}.loans.loan.created"

    def relayed(found: Spans) -> bool:  # the relay publishes after the reply: wait for its span
        return {f"send {event}", "process loans.create"} <= {s.name for s in found}

    finished = await wait_for(spans, relayed)
    edge = one(finished, SpanKind.SERVER, f"POST {CREATE}")
    in_trace = [s for s in finished if trace_id(s) == trace_id(edge)]
    print("\n" + draw(in_trace, edge))

    assert edge.parent is None  # the client sent no traceparent: the trace starts at the edge
    assert edge.attributes is not None
    assert edge.attributes["http.route"] == CREATE
    assert edge.attributes["http.request.method"] == "POST"
    assert edge.attributes["http.response.status_code"] == 201

    client_span = one(in_trace, SpanKind.CLIENT, "send loans.create")
    assert parent_id(client_span) == span_id(edge)
    assert client_span.attributes == {
        "messaging.system": "nats",
        "messaging.destination.name": "loans.create",
        "messaging.operation.type": "send",
    }

    actor = one(in_trace, SpanKind.SERVER, "process loans.create")
    assert parent_id(actor) == span_id(client_span)  # the context on the wire is the client span's
    assert actor.attributes is not None
    assert actor.attributes["messaging.system"] == "nats"
    assert actor.attributes["messaging.destination.name"] == "loans.create"
    assert actor.attributes["messaging.consumer.group.name"] == "loans"
    assert actor.attributes["loans.caller.role"] == "agent"
    assert actor.status.is_unset

    below = descendants(in_trace, actor)
    statements = [s for s in below if s.attributes and s.attributes.get("db.system.name") == "postgresql"]
    texts = [str(s.attributes["db.query.text"]) for s in statements if s.attributes]
    assert any("INSERT INTO loans" in t or "insert into loans" in t.lower() for t in texts), texts
    assert all(s.kind == SpanKind.CLIENT for s in statements)
    assert all(s.attributes and s.attributes["db.namespace"] == _database(settings) for s in statements)
    assert any(parent_id(s) == span_id(actor) for s in statements)

    created = one(below, SpanKind.PRODUCER, f"create {event}")
    assert created.attributes is not None
    assert created.attributes["messaging.destination.name"] == event
    assert created.attributes["messaging.operation.type"] == "create"
    outbox_insert = [s for s in statements if parent_id(s) == span_id(created)]
    assert any("outbox" in str(s.attributes and s.attributes["db.query.text"]) for s in outbox_insert)

    sent = one(in_trace, SpanKind.CLIENT, f"send {event}")
    assert parent_id(sent) == span_id(created)  # published later, still in the request's trace
    assert (
        sent.attributes is not None
        and sent.attributes["messaging.message.id"] == (created.attributes["messaging.message.id"])
    )


async def test_a_traceparent_sent_by_the_client_is_continued(
    client: httpx.AsyncClient, people: Cast, spans: InMemorySpanExporter
) -> None:
    remote_trace, remote_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {**people.customer.headers, "traceparent": f"00-{remote_trace}-{remote_span}-01"}
    response = await client.get("/api/user/profile", headers=headers)
    assert response.status_code == 200, response.text

    finished = await wait_for(spans, lambda f: any(s.name == "process users.profile" for s in f))
    edge = one(finished, SpanKind.SERVER, "GET /api/user/profile")
    assert f"{trace_id(edge):032x}" == remote_trace
    assert parent_id(edge) == int(remote_span, 16)
    client_span = one(finished, SpanKind.CLIENT, "send users.profile")
    actor = one(finished, SpanKind.SERVER, "process users.profile")
    assert trace_id(actor) == trace_id(client_span) == trace_id(edge)
    assert parent_id(actor) == span_id(client_span)  # not the HTTP client's span: ours replaced it


async def test_a_consumer_span_is_linked_to_the_event_producer(
    client: httpx.AsyncClient, people: Cast, settings: Settings, spans: InMemorySpanExporter
) -> None:
    response = await _create_loan(client, people)
    assert response.status_code == 201, response.text
    event = f"{settings.events_prefix}.loans.loan.created"
    edge_trace = None

    def consumed(found: Spans) -> bool:  # this request's event (an earlier test's may arrive too)
        nonlocal edge_trace
        edges = [s for s in found if s.name == f"POST {CREATE}"]
        edge_trace = trace_id(edges[0]) if edges else None
        return any(
            s.kind == SpanKind.CONSUMER and any(link.context.trace_id == edge_trace for link in s.links)
            for s in found
        )

    finished = await wait_for(spans, consumed)
    edge = one(finished, SpanKind.SERVER, f"POST {CREATE}")
    in_trace = [s for s in finished if trace_id(s) == trace_id(edge)]
    created = one(in_trace, SpanKind.PRODUCER, f"create {event}")
    [consumer] = [
        s
        for s in finished
        if s.kind == SpanKind.CONSUMER and s.links and s.links[0].context.trace_id == trace_id(edge)
    ]
    assert consumer.name == f"process {event}"
    assert consumer.parent is None and trace_id(consumer) != trace_id(edge)  # a trace of its own...
    assert [link.context.span_id for link in consumer.links] == [span_id(created)]  # ...linked
    assert consumer.attributes is not None
    assert consumer.attributes["messaging.consumer.group.name"] == "users-loan-activity"
    assert consumer.attributes["messaging.message.id"] == (created.attributes or {})["messaging.message.id"]
    assert consumer.attributes["loans.event.applied"] is True
    statements = descendants(finished, consumer)
    assert statements and all(
        s.attributes and s.attributes["db.system.name"] == "postgresql" for s in statements
    )
    print("\n" + draw(finished, consumer))


async def test_a_refusal_is_not_a_span_error(
    client: httpx.AsyncClient, people: Cast, spans: InMemorySpanExporter
) -> None:
    """A customer may not create a loan: 403 everywhere, recorded as attributes, status unset."""
    body = {"customer_id": people.customer.id, "principal": "50000", "months": 12}
    response = await client.post(CREATE, json=body, headers=people.customer.headers)
    assert response.status_code == 403
    # The actor's span ends just after its reply is sent, so it may finish after the edge's.
    finished = await wait_for(
        spans, lambda f: {f"POST {CREATE}", "process loans.create"} <= {s.name for s in f}
    )
    actor = one(finished, SpanKind.SERVER, "process loans.create")
    client_span = one(finished, SpanKind.CLIENT, "send loans.create")
    edge = one(finished, SpanKind.SERVER, f"POST {CREATE}")
    for span in (actor, client_span, edge):
        assert span.status.status_code == StatusCode.UNSET, span.name
    assert actor.attributes is not None and actor.attributes["loans.error.status"] == 403
    assert actor.attributes["loans.error.code"] == "forbidden"
    assert edge.attributes is not None and edge.attributes["http.response.status_code"] == 403
