"""Every actor's `$SRV.PING|INFO|STATS` replies validate against the NATS micro v1 JSON schemas.

The schemas are nats-io/jsm.go's, vendored unchanged under tests/fixtures/micro_v1/ (its README
names the commits): what `nats micro ls|info|stats` and other standard tools hold a reply to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from nats.aio.client import Client

from actors.runtime.micro import stats_body
from actors.runtime.serving import ServingActor
from ops.discovery import gather

pytestmark = pytest.mark.anyio

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "micro_v1"
# Each verb's reply must satisfy every vendored revision of its schema.
REVISIONS = {
    "PING": ["ping_response.json"],
    "INFO": ["info_response.json"],
    "STATS": ["stats_response.json", "stats_response.15665dc.json"],
}


def _validators(verb: str) -> list[jsonschema.Draft7Validator]:
    found = []
    for name in REVISIONS[verb]:
        schema = json.loads((SCHEMAS / name).read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        # format_checker: "started" must really be RFC 3339 (rfc3339-validator does the checking)
        found.append(jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()))
    return found


def _refusals(verb: str, reply: dict[str, Any]) -> list[str]:
    return [
        f"{verb} {validator.schema['$id']}: {error.message} at {list(error.absolute_path)}"
        for validator in _validators(verb)
        for error in validator.iter_errors(reply)
    ]


@pytest.fixture
async def workers(
    nc: Client,
    users_worker: ServingActor[Any],
    loans_worker: ServingActor[Any],
    servicing_worker: ServingActor[Any],
) -> list[ServingActor[Any]]:
    """One running worker of every actor, having served requests (so STATS carries figures)."""
    for _ in range(2):
        await nc.request("users.jwks", b"", timeout=5)
    await nc.request("loans.get", b"{not json", timeout=5)  # an error reply: counted, with last_error
    return [users_worker, loans_worker, servicing_worker]


@pytest.mark.parametrize("verb", ["PING", "INFO", "STATS"])
async def test_every_reply_of_every_actor_validates(
    verb: str, nc: Client, workers: list[ServingActor[Any]]
) -> None:
    """Asked on all three subject forms, each running replica answers with a valid reply."""
    for worker in workers:
        name, replica = worker.actor.name, worker.micro.id
        for subject in (f"$SRV.{verb}", f"$SRV.{verb}.{name}", f"$SRV.{verb}.{name}.{replica}"):
            replies = [json.loads(raw) for raw in await gather(nc, subject, wait=0.5)]
            assert any(r.get("id") == replica for r in replies), f"{replica} did not answer {subject}"
            for reply in replies:
                assert _refusals(verb, reply) == [], reply
    if verb in ("INFO", "STATS"):  # the replies list the endpoints each worker serves
        for worker in workers:
            [reply] = [
                json.loads(raw)
                for raw in await gather(nc, f"$SRV.{verb}.{worker.actor.name}.{worker.micro.id}")
            ]
            assert {e["subject"] for e in reply["endpoints"]} == set(worker.actor.routes)


async def test_stats_figures_survive_the_schema(nc: Client, workers: list[ServingActor[Any]]) -> None:
    """The counters a valid STATS reply carries are the replica's own (requests, errors, time)."""
    users, loans = workers[0], workers[1]
    [reply] = [json.loads(raw) for raw in await gather(nc, f"$SRV.STATS.loans.{loans.micro.id}")]
    get = next(e for e in reply["endpoints"] if e["subject"] == "loans.get")
    assert get["num_requests"] >= 1 and get["queue_group"] == "loans"
    assert "data" not in get  # omitted, never null
    [reply] = [json.loads(raw) for raw in await gather(nc, f"$SRV.STATS.users.{users.micro.id}")]
    jwks = next(e for e in reply["endpoints"] if e["subject"] == "users.jwks")
    assert jwks["num_requests"] >= 2 and jwks["processing_time"] > 0


def test_the_schemas_refuse_what_nats_micro_writes_for_stats(
    users_worker: ServingActor[Any],
) -> None:
    """nats.micro's own `to_dict()` sends `"data": null` per endpoint: refused, our reply is not."""
    stats = users_worker.micro.stats()
    refused = _refusals("STATS", stats.to_dict())
    assert refused and all("None is not of type 'object'" in r for r in refused), refused
    assert _refusals("STATS", stats_body(stats)) == []


def test_a_started_time_without_a_zone_is_refused(users_worker: ServingActor[Any]) -> None:
    """The format check is on: RFC 3339 needs the zone, which nats.micro writes as "Z"."""
    body = stats_body(users_worker.micro.stats())
    body["started"] = body["started"].removesuffix("Z")
    assert any("date-time" in r for r in _refusals("STATS", body))
