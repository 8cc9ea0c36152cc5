"""`loans stats`: every replica's `$SRV.STATS`, as one table per subject and replica.

Each worker counts, per subject it serves, the requests it answered, how many were errors (5xx,
deadline, database down) and the time spent on them (actors/runtime/micro.py). Asking `$SRV.STATS.<actor>`
gets one reply per running replica.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable

import msgspec

from actors.bus.connection import connect
from actors.contracts.config import Settings
from ops.discovery import gather
from ops.registry import ACTORS

COLUMNS = ("subject", "replica", "requests", "errors", "avg ms", "total s")


class EndpointStats(msgspec.Struct):
    subject: str
    num_requests: int = 0
    num_errors: int = 0
    processing_time: int = 0  # nanoseconds, summed over the requests


class ReplicaStats(msgspec.Struct):
    id: str
    name: str
    endpoints: list[EndpointStats] = []


_decode = msgspec.json.Decoder(ReplicaStats).decode


def rows(replicas: Iterable[ReplicaStats]) -> list[tuple[str, ...]]:
    """One row per subject and replica, by subject; a subject served by several gets an "all" row."""
    by_subject: dict[str, list[tuple[str, EndpointStats]]] = {}
    for replica in replicas:
        for endpoint in replica.endpoints:
            by_subject.setdefault(endpoint.subject, []).append((replica.id, endpoint))
    table: list[tuple[str, ...]] = []
    for subject in sorted(by_subject):
        served = sorted(by_subject[subject], key=lambda pair: pair[0])
        table += [
            _row(subject, replica, e.num_requests, e.num_errors, e.processing_time) for replica, e in served
        ]
        if len(served) > 1:
            requests = sum(e.num_requests for _, e in served)
            errors = sum(e.num_errors for _, e in served)
            table.append(_row(subject, "all", requests, errors, sum(e.processing_time for _, e in served)))
    return table


def _row(subject: str, replica: str, requests: int, errors: int, time_ns: int) -> tuple[str, ...]:
    average_ms = time_ns / requests / 1e6 if requests else 0.0
    return (subject, replica, str(requests), str(errors), f"{average_ms:.2f}", f"{time_ns / 1e9:.2f}")


def render(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [COLUMNS, *table]) for i in range(len(COLUMNS))]
    lines = []
    for row in [COLUMNS, *table]:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [
            cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in pairs
        ]  # names left, numbers right
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


async def collect(settings: Settings, wait: float) -> list[ReplicaStats]:
    nc = await connect(settings, "loans-stats")
    try:
        replies = await asyncio.gather(*(gather(nc, f"$SRV.STATS.{actor}", wait) for actor in ACTORS))
    finally:
        await nc.drain()
    return [_decode(raw) for per_actor in replies for raw in per_actor]


async def show(settings: Settings, wait: float) -> int:
    replicas = await collect(settings, wait)
    if not replicas:
        print("loans: no replica answered $SRV.STATS (is any worker running?)", file=sys.stderr)
        return 3
    print(render(rows(replicas)))
    return 0
