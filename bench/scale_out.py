"""Scale-out (issue 18): loan-actors alone under the `list` load with 1, 2 and 4 loans workers and
1 and 2 edges, so that "add a worker and the subject's capacity grows" has a table to stand on.

Each shape runs in fresh processes (stopped after it), on the variants' base database, with an
events stream of its own; the edges of a shape share one port (LOANS_HTTP_REUSE_PORT), the kernel
spreading wrk's connections over them.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from actors.contracts.config import Settings
from bench import plan, systems
from bench.measure import announce, measure
from bench.outcome import Measurement, Outcome
from bench.procs import Procs
from bench.stage import Servers, stop_arch, with_database

# (loans workers, edges), in the order measured
SHAPES = ((1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (4, 2))


def run_scale_out(
    outcome: Outcome,
    procs: Procs,
    base: Settings,
    servers: Servers,
    database: str,
    files: dict[str, plan.Files],
    tool: str,
    work: Path,
) -> None:
    """Measure every shape in turn into `outcome.scale_out`."""
    for workers, edges in SHAPES:
        m = _measure_shape(outcome, procs, base, servers, database, files, tool, work, workers, edges)
        outcome.scale_out.append(m)
        announce(
            outcome.notes, m, f"{workers} loans worker(s), {edges} edge(s)", f"scale-out {workers}×{edges}"
        )


def _measure_shape(
    outcome: Outcome,
    procs: Procs,
    base: Settings,
    servers: Servers,
    database: str,
    files: dict[str, plan.Files],
    tool: str,
    work: Path,
    workers: int,
    edges: int,
) -> Measurement:
    settings = msgspec.structs.replace(
        with_database(base, servers.database_url, database),
        events_prefix=f"{base.events_prefix}_out{workers}x{edges}",
    )
    t0 = time.monotonic()
    tag = f"out-{workers}x{edges}"
    arch = systems.start_loan_actors(
        procs, settings, database, servers.nats_pid, tag=tag, loans_workers=workers, edges=edges
    )
    try:
        systems.wait_ready(arch)
        outcome.timings[f"start_{tag}"] = time.monotonic() - t0
        list_ = plan.SCENARIOS["list"]
        m = measure(arch, [arch], list_, files["list"], outcome.options, servers.postmaster, tool, work)
    finally:
        stop_arch(procs, arch)
    m.variant, m.loans_workers, m.edges = "scale-out", workers, edges
    return m
