"""Scale-out (issue 18): loan-actors alone under the `list` load with 1, 2 and 4 loans workers and
1 and 2 edges, so that "add a worker and the subject's capacity grows" has a table to stand on.

Each shape runs in fresh processes (stopped after it), on the variants' base database, with an
events stream of its own; the edges of a shape share one port (LOANS_HTTP_REUSE_PORT), the kernel
spreading wrk's connections over them.
"""

from __future__ import annotations

from bench import plan
from bench.alone import Alone
from bench.measure import announce

# (loans workers, edges), in the order measured
SHAPES = ((1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (4, 2))


def run_scale_out(alone: Alone, database: str) -> None:
    """Measure every shape in turn into `outcome.scale_out`."""
    outcome = alone.outcome
    for workers, edges in SHAPES:
        with alone.running(f"out-{workers}x{edges}", database, loans_workers=workers, edges=edges) as arch:
            m = alone.measure(arch, plan.SCENARIOS["list"])
        m.variant, m.loans_workers, m.edges = "scale-out", workers, edges
        outcome.scale_out.append(m)
        announce(
            outcome.notes, m, f"{workers} loans worker(s), {edges} edge(s)", f"scale-out {workers}×{edges}"
        )
