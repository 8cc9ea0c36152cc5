"""The report's section on the scale-out mode (bench/scale_out.py): one row per shape."""

from __future__ import annotations

import math
import os

from bench.cells import figure, per_process
from bench.outcome import Measurement, Outcome


def scale_out_text(outcome: Outcome) -> str:
    """The shapes' table, and what it says: how capacity grows, where the machine saturates."""
    rows = outcome.scale_out
    if not rows:
        return ""
    first = rows[0]
    lines = [
        "| loans workers | edges | req/s | × 1 worker, 1 edge | CPU ms / req | cores busy | p50 ms | "
        "p99 ms | errors | of which, per process (s / 1000 req) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in rows:
        lat = m.result.latencies_ms
        gain = m.rps / first.rps if first.rps else math.nan
        lines.append(
            f"| {m.loans_workers} | {m.edges} | {m.rps:.0f} | {figure(gain)} | "
            f"{figure(m.cpu_per_1000, 3)} | {figure(_cores(m))} | {figure(lat.get('p50', math.nan))} | "
            f"{figure(lat.get('p99', math.nan))} | {m.result.errors} | {per_process(m)} |"
        )
    best = max(rows, key=lambda m: m.rps)
    lines += [
        "",
        f"- GET list (the `loans.list` subject) under the main table's load ({first.tool}, "
        f"{first.connections} connections), each shape in fresh processes; the edges of a shape share "
        "one port "
        "(LOANS_HTTP_REUSE_PORT=1) and the kernel spreads the connections over them.",
        f"- Cores busy = req/s × CPU per request, over every process of the shape (edges, workers, NATS, "
        f"Postgres): this machine has {_cpus()} of them, and wrk takes its share too. The most: "
        f"{best.loans_workers} loans worker(s) with {best.edges} edge(s), {best.rps:.0f} req/s "
        f"({figure(best.rps / first.rps if first.rps else math.nan)} × one of each).",
    ]
    if _cores(first) >= 0.8 * _cpus():
        lines.append(
            f"- One loans worker and one edge already keep {figure(_cores(first))} of this machine's "
            f"{_cpus()} cores busy (wrk has most of the rest): a process more cannot find a core of its own, "
            "so it only adds its own cost (one more NATS subscriber and connection, more context "
            "switches, smaller batches per process). Capacity grows with workers where there are "
            "cores for them: on this machine the subject saturates at one worker."
        )
    return "\n".join(lines) + "\n"


def _cores(m: Measurement) -> float:
    return m.rps * m.cpu_per_1000 / 1000


def _cpus() -> int:
    return os.cpu_count() or 1
