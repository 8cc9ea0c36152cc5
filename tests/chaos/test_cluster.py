"""Scale and HA: a three-node NATS cluster (deploy/nats-cluster.conf, TLS on clients and routes,
events kept on all three nodes), two workers of each actor and the edge; under a steady load one
NATS node is killed, then one loans worker. No request fails (what was lost is retried), no event
is lost or published twice."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client
from nats.js.api import StreamInfo

from tests.support.cluster import NatsCluster
from tests.support.harness import (
    Load,
    cast,
    duplicate_writes,
    events_settled,
    loans_made,
    report,
    retried,
    system,
)
from tests.support.polling import eventually

pytestmark = [pytest.mark.anyio, pytest.mark.chaos]


async def stream_info(nc: Client, stream: str, subjects: str | None = None) -> StreamInfo:
    return await nc.jetstream().stream_info(stream, subjects_filter=subjects)


async def lead_from(nc: Client, stream: str, node: str, within: float = 20.0) -> bool:
    """Best effort: ask the stream's leader to step down until `node` leads it (each election
    picks one of the others). Whether it worked."""

    async def leading() -> bool:
        try:
            info = await stream_info(nc, stream)
        except Exception:  # mid-election
            return False
        leader = info.cluster.leader if info.cluster is not None else None
        if leader is not None and leader != node:
            await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", b"", timeout=5)
        return leader == node

    try:
        return await eventually(leading, timeout=within, interval=0.5)
    except AssertionError:
        return False


async def test_a_nats_node_and_a_worker_killed_under_load_fail_no_request_and_lose_no_event(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    cluster = NatsCluster(tmp_path / "cluster")
    try:
        await cluster.start_all()
        # TLS for clients and routes (issue 12 M7): every process below connects over tls://
        assert set(cluster.tls_required().values()) == {True}, cluster.tls_required()
        async with system(tmp_path, server_urls, users_workers=2, loans_workers=2, cluster=cluster) as sys:
            stream = sys.settings.events_stream
            async with httpx.AsyncClient(base_url=sys.http_url, timeout=15) as http:
                await sys.wait_ready(http)
                people = await cast(http, sys.settings)
                before = await loans_made(sys, people.agent.id)
                # The node to kill: the one the edge is on, made the events stream's leader too.
                doomed = cluster.node_at((await http.get("/ready")).json()["nats_server"])
                tools = await cluster.connect("tools")
                try:
                    info = await stream_info(tools, stream)
                    assert info.config.num_replicas == 3
                    assert info.cluster is not None and len(info.cluster.replicas or []) == 2
                    leading = await lead_from(tools, stream, doomed)
                finally:
                    await tools.close()

                load = Load(http, people)
                load.start()
                await asyncio.sleep(4)
                killed_at = time.monotonic()
                cluster.kill(doomed)
                await asyncio.sleep(3)
                victim = sys.processes["loans-1"]
                victim.send_signal(signal.SIGSTOP)  # frozen holding requests, then gone
                await asyncio.sleep(0.3)
                victim.send_signal(signal.SIGKILL)
                await asyncio.sleep(6)
                await load.stop()
                assert victim.wait(5) == -signal.SIGKILL
                moved_to = cluster.node_at((await http.get("/ready")).json()["nats_server"])
                retries = await retried(http)
                events = await events_settled(sys)
                duplicates = await duplicate_writes(sys, people.agent.id)
                made = await loans_made(sys, people.agent.id) - before
                tools = await cluster.connect("tools")
                try:
                    after = await stream_info(tools, stream, f"{sys.settings.events_prefix}.loans.>")
                finally:
                    await tools.close()
            published = sum((after.state.subjects or {}).values())
            report(
                "NATS node (edge's, stream leader) and a loans worker killed",
                sent=load.sent(),
                failed=load.failed(),
                retried=sum(retries.values()),
                retried_by=retries,
                sent_after_kill=sum(1 for o in load.outcomes if o.at > killed_at),
                stream_leader_killed=leading,
                edge_moved=f"{doomed}->{moved_to}",
                loans_made=made,
                duplicate_writes=duplicates,
                events_written=events.written,
                events_in_stream=published,
                events_applied=events.applied,
                events_lost=events.lost,
                statuses=load.statuses(),
            )
            assert load.sent() > 200
            assert load.failed() == 0  # every request lost with the node or the worker was retried
            assert moved_to != doomed
            assert duplicates == 0 and made == load.succeeded_writes()
            assert events.lost == 0 and events.unpublished == 0
            assert published == events.written  # each event in the stream once: none published twice
            assert after.cluster is not None and after.cluster.leader not in (None, doomed)
    finally:
        cluster.stop()
