"""subjects.md and the registered handlers say the same thing, in both directions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.runtime.actor import Actor
from actors.runtime.serving import ServingActor
from ops.discovery import gather
from ops.registry import deployables
from tests.support.polling import eventually

# every actor of the registry: a new one is checked here without a line of its own
ACTORS: list[Actor[Any]] = [d.actor for d in deployables()]
DOC = Path(__file__).resolve().parent.parent / "subjects.md"


def documented() -> dict[str, dict[str, str]]:
    """`### \\`subject\\`` sections and their `| key | value |` rows."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^### `([^`]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), {})
            continue
        row = re.match(r"^\| (\w+) \| (.*) \|$", line)
        if row and current is not None:
            current[row.group(1)] = row.group(2).strip()
    return sections


def _struct(text: str) -> tuple[str, list[str]]:
    match = re.match(r"^`(\w+)`: (.*)$", text)
    assert match, f"expected '`Name`: fields', got {text!r}"
    fields = [] if match.group(2) == "(none)" else [f.strip() for f in match.group(2).split(",")]
    return match.group(1), fields


def test_every_registered_subject_is_documented_and_every_documented_one_registered() -> None:
    registered = {s for a in ACTORS for s in a.routes}
    in_doc = {s for s in documented() if not s.startswith("events.")}
    assert registered - in_doc == set(), "registered but missing from subjects.md"
    assert in_doc - registered == set(), "in subjects.md but no handler"


@pytest.mark.parametrize("subject", sorted(s for a in ACTORS for s in a.routes))
def test_documented_roles_request_and_reply_match_the_handler(subject: str) -> None:
    route = next(a.routes[subject] for a in ACTORS if subject in a.routes)
    doc = documented()[subject]
    roles = "anyone" if route.roles is None else ", ".join(sorted(route.roles))
    assert doc["who"] == roles
    name, fields = _struct(doc["request"])
    assert (name, fields) == (route.request_type.__name__, list(route.request_type.__struct_fields__))
    if route.reply_type is bytes:
        assert doc["reply"].startswith("raw JSON")
    else:
        name, fields = _struct(doc["reply"])
        assert (name, fields) == (route.reply_type.__name__, list(route.reply_type.__struct_fields__))
    assert doc.get("errors"), "say which errors it answers"


@pytest.mark.anyio
@pytest.mark.parametrize("actor", ACTORS, ids=lambda actor: actor.name)
async def test_queue_group_is_the_actor_name(
    actor: Actor[Any],
    nc: Client,
    users_worker: ServingActor[Any],
    loans_worker: ServingActor[Any],
    servicing_worker: ServingActor[Any],
) -> None:
    """subjects.md names the actor as the queue group, and its running workers subscribe in it: a
    subscriber that joins that group shares the requests with them, where a worker in another
    group would get a copy of every request too."""
    assert f"## `{actor.name}.*` — queue group `{actor.name}`" in DOC.read_text()
    subject = sorted(actor.routes)[0]
    for raw in await gather(nc, f"$SRV.INFO.{actor.name}", 0.3):
        assert {e["queue_group"] for e in json.loads(raw)["endpoints"]} == {actor.name}, raw
    before = await _served(nc, actor.name, subject)
    ours: list[Msg] = []

    async def member(msg: Msg) -> None:
        ours.append(msg)
        await msg.respond(b"{}")

    sub = await nc.subscribe(subject, queue=actor.name, cb=member)
    try:
        sent = 40
        for _ in range(sent):
            await nc.request(subject, b"{}", timeout=5)
    finally:
        await sub.unsubscribe()

    async def each_request_served_once() -> bool:
        # the workers count a request after answering it: the last count may lag the reply
        served = await _served(nc, actor.name, subject) - before
        assert len(ours) + served == sent, f"{len(ours)} to the test's member, {served} to the workers"
        return True

    await eventually(each_request_served_once, timeout=5, what="the requests were not shared")
    assert 0 < len(ours) < sent  # both took some: NATS picks a member per request at random


async def _served(nc: Client, actor: str, subject: str) -> int:
    """Requests for `subject` that the actor's running replicas have answered, all together."""
    stats = [json.loads(raw) for raw in await gather(nc, f"$SRV.STATS.{actor}", 0.3)]
    assert stats, f"no {actor} replica answers $SRV.STATS"
    return sum(e["num_requests"] for s in stats for e in s["endpoints"] if e["subject"] == subject)


def test_every_published_event_is_documented_with_its_data_and_nothing_else_is() -> None:
    published = {f"events.{t}": data for a in ACTORS for t, data in a.publishes.items()}
    in_doc = {s: row for s, row in documented().items() if s.startswith("events.")}
    assert set(published) == set(in_doc)
    for subject, data in published.items():
        assert _struct(in_doc[subject]["data"]) == (data.__name__, list(data.__struct_fields__))
        assert in_doc[subject]["publisher"].startswith(subject.split(".")[1])


def test_every_consumer_is_documented_on_the_events_it_takes() -> None:
    in_doc = {s: row for s, row in documented().items() if s.startswith("events.")}
    for actor in ACTORS:
        for sub in actor.subscriptions:
            prefix = "events." + sub.pattern.removesuffix(">")
            taken = [s for s in in_doc if s.startswith(prefix)]
            assert taken, f"{sub.durable} takes no documented event"
            for subject in taken:
                assert f"`{sub.durable}`" in in_doc[subject]["consumers"], (sub.durable, subject)
    documented_durables = set(re.findall(r"`([a-z-]+)`", " ".join(r["consumers"] for r in in_doc.values())))
    assert documented_durables == {sub.durable for a in ACTORS for sub in a.subscriptions}
