"""Across real processes: the edge's and a worker's spans for one request share a trace id.

The edge and a loans worker run as `loans` processes with OTEL_TRACES_EXPORTER=console (one JSON
span a line on stdout, written to files here) beside the session's in-process workers; requests
are sent until one is served by the worker process (NATS picks a replica at random).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.runtime.serving import ServingActor
from ops.discovery import gather
from ops.embedded import free_port
from tests.support.loans import random_principal
from tests.support.people import Cast
from tests.support.polling import eventually
from tests.support.processes import loans_process

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
TRACED = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "50"}


def read_spans(path: Path) -> list[dict[str, Any]]:
    """The spans a process has written so far (a line still being written is left for later)."""
    complete = path.read_text().rpartition("\n")[0]
    return [json.loads(line) for line in complete.splitlines() if line.startswith("{")]


def read_logs(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _wait_ready(url: str, nc: Client, own_id: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:

        async def ready() -> bool:
            ids = {json.loads(raw)["id"] for raw in await gather(nc, "$SRV.PING.loans", 0.2)}
            assert ids - {own_id}, "no loans worker process answers $SRV.PING yet"
            return (await http.get("/ready")).status_code == 200

        # gather() waits 0.2 s for the replies already: no pause between its calls
        await eventually(
            ready,
            timeout=60,
            interval=0,
            what="the edge and worker processes did not come up",
            ignoring=(httpx.TransportError,),
        )


@contextmanager
def traced_processes(settings: Settings, port: int, folder: Path) -> Iterator[None]:
    """A loans worker and an edge process, their stdout (spans) and stderr (logs) in `folder`."""
    with ExitStack() as stack:
        for name, args in (("worker", ("worker", "loans")), ("edge", ("edge", "--port", str(port)))):
            out = stack.enter_context(open(folder / f"{name}.out", "wb"))
            err = stack.enter_context(open(folder / f"{name}.err", "wb"))
            stack.enter_context(loans_process(settings, *args, stdout=out, stderr=err, **TRACED))
        yield


async def test_the_edge_and_worker_processes_put_one_request_in_one_trace(
    settings: Settings, nc: Client, people: Cast, loans_worker: ServingActor[Any], tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = {name: tmp_path / f"{name}.out" for name in ("edge", "worker")}
    err = {name: tmp_path / f"{name}.err" for name in ("edge", "worker")}
    with traced_processes(settings, port, tmp_path):
        await _wait_ready(url, nc, loans_worker.micro.id)
        shared = await _until_a_request_reaches_the_worker_process(url, people, out)

    client_span, actor_span = shared
    assert client_span["resource"]["attributes"]["service.name"] == "edge"
    assert actor_span["resource"]["attributes"]["service.name"] == "loans"
    assert client_span["resource"]["attributes"]["service.instance.id"]
    assert actor_span["parent_id"] == client_span["context"]["span_id"]

    # Every stderr line of both processes is a JSON log record naming its service.
    for name, service in (("edge", "edge"), ("worker", "loans")):
        records = read_logs(err[name])
        assert records, f"the {name} wrote no log line"
        assert all(
            r["service"] == service and {"time", "level", "logger", "message"} <= r.keys() for r in records
        )


async def _until_a_request_reaches_the_worker_process(
    url: str, people: Cast, out: dict[str, Path]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the edge's client span, the worker's server span) of the first request both processes traced."""
    body = {"customer_id": people.customer.id, "principal": random_principal(), "months": 24}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for _ in range(40):  # each request reaches the worker process with probability 1/2
            response = await http.post("/api/loan/customer-loan", json=body, headers=people.agent.headers)
            assert response.status_code == 201, response.text
            try:  # the processes export every 50 ms
                return await eventually(
                    lambda: _shared_trace(read_spans(out["edge"]), read_spans(out["worker"])), timeout=0.5
                )
            except AssertionError:
                pass  # not in the worker process's spans: the in-process worker served it; send another
    raise AssertionError("no request was traced by both the edge and the worker process")


def _shared_trace(
    edge: list[dict[str, Any]], worker: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    served = {s["context"]["trace_id"]: s for s in worker if s["name"] == "process loans.create"}
    for sent in (s for s in edge if s["name"] == "send loans.create"):
        if sent["context"]["trace_id"] in served:
            return sent, served[sent["context"]["trace_id"]]
    return None
