"""LOANS_HTTP_REUSE_PORT: two `loans edge` processes share one port; either carries it alone."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import msgspec
import pytest

from actors.contracts.config import Settings
from ops.embedded import free_port
from tests.support.polling import eventually
from tests.support.processes import loans_process, stop

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _healthy(port: int, *edges: subprocess.Popen[bytes]) -> None:
    async def answers() -> bool:
        if any(edge.poll() is not None for edge in edges):
            pytest.fail("an edge exited while starting")
        async with httpx.AsyncClient(timeout=5) as http:  # a new connection each time
            return (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200

    await eventually(
        answers, timeout=30, interval=0.1, what="no edge answered", ignoring=(httpx.TransportError,)
    )


async def test_two_edges_share_a_port_and_one_carries_on_when_the_other_stops(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    shared = msgspec.structs.replace(settings, http_port=port, http_reuse_port=True)
    with (
        (tmp_path / "edge-1.log").open("wb") as log1,
        (tmp_path / "edge-2.log").open("wb") as log2,
        loans_process(shared, "edge", stdout=log1, stderr=log1) as first,
        loans_process(shared, "edge", stdout=log2, stderr=log2) as second,
    ):
        await _healthy(port, first, second)
        assert first.poll() is None and second.poll() is None  # both bound the port
        assert stop(first, signal.SIGTERM, timeout=30) == 0
        for _ in range(20):  # new connections: each would have gone to either edge before
            await _healthy(port, second)


async def test_without_it_a_second_edge_on_a_taken_port_fails_to_start(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    alone = msgspec.structs.replace(settings, http_port=port)
    with (
        (tmp_path / "edge-1.log").open("wb") as log1,
        (tmp_path / "edge-2.log").open("wb") as log2,
        loans_process(alone, "edge", stdout=log1, stderr=log1) as first,
    ):
        await _healthy(port, first)
        with loans_process(alone, "edge", stdout=log2, stderr=log2) as second:
            assert second.wait(timeout=30) != 0
        assert first.poll() is None
