"""A repayment's CPU against a loan create's, through the real edge: `loans edge` + a worker of each
actor + nats-server + Postgres, the bench's own closed-loop load (bench/measure.py) of each.

Repayments are recorded by the account's agent, 25.00 each, every request on another account (a
write locks its account and replays its repayments: one account for every request would measure
a queue on one row lock and an ever longer replay). Creates are bench/plan.py's. The two loads run
in turns (`rounds`), the order swapped each round, and the ratio is of the medians: the machine's
speed drifts over minutes (bench/README.md, "Rounds").
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator
from pathlib import Path

import msgspec

from actors.users.signing import SigningKey
from bench import load, plan, systems
from bench.data import Shape, bench_uuid
from bench.measure import measure, progress
from bench.outcome import Measurement, Options
from bench.procs import Procs
from bench.servicing_seed import loan_id
from bench.smoke import smoke
from bench.stage import Servers, stop_arch

REPAY = plan.Scenario("repay", "POST /api/loan/{id}/repayments (agent, 25.00)")
CREATE = plan.SCENARIOS["create"]
_encode = msgspec.json.Encoder().encode


def repayments(key: SigningKey, shape: Shape, accounts: range) -> Iterator[bytes]:
    """One repayment on each account of `accounts`, by that account's agent (i % agents)."""
    tokens = [key.issue(bench_uuid("agent", i), "agent", plan.TOKEN_TTL) for i in range(shape.agents)]
    body = _encode({"amount": "25.00"})
    for i in accounts:
        yield plan.http_request("POST", f"/api/loan/{loan_id(i)}/repayments", tokens[i % shape.agents], body)


def build_files(key: SigningKey, shape: Shape, accounts: int, work: Path) -> dict[str, plan.Files]:
    """Warm-up repayments on accounts of their own (the upper half), measured ones on the lower
    half's (each once, up to 50,000: more than a run sends); creates as bench/plan.py makes them."""
    half = accounts // 2
    streams = {
        ("repay", "warmup"): repayments(key, shape, range(half, min(accounts, half + 5000))),
        ("repay", "measured"): repayments(key, shape, range(min(half, 50_000))),
        ("create", "warmup"): itertools.islice(plan.Requests(key, shape).creates(), 1000),
        ("create", "measured"): itertools.islice(plan.Requests(key, shape).creates(), 1000),
    }
    paths = {}
    for (name, phase), stream in streams.items():
        paths[(name, phase)] = path = work / f"{name}-{phase}.req"
        plan.write_requests(path, stream)
    # `reuse`: the generator cycles through a file it reaches the end of (the warm-up does)
    return {
        n: plan.Files(paths[(n, "warmup")], paths[(n, "measured")], reuse=True) for n in ("repay", "create")
    }


def measure_writes(
    procs: Procs,
    arch: systems.Arch,
    files: dict[str, plan.Files],
    opts: Options,
    servers: Servers,
    rounds: int,
    work: Path,
) -> tuple[list[Measurement], list[str]]:
    """Create and repay in turns on one running system; (the measurements, problems seen)."""
    problems = smoke([arch], files)
    tool = load.choose_tool(opts)
    out: list[Measurement] = []
    try:
        for r in range(1, rounds + 1):
            for scenario in (CREATE, REPAY) if r % 2 else (REPAY, CREATE):
                m = measure(
                    arch, [arch], scenario, files[scenario.name], opts, servers.postmaster, tool, work
                )
                m.round = r
                print(progress(m), flush=True)
                out.append(m)
    finally:
        stop_arch(procs, arch)
    return out, problems


def cpu_ratio(measurements: list[Measurement]) -> tuple[float, float, float]:
    """(repay's median CPU s per 1,000 requests, create's, repay / create)."""

    def median(name: str) -> float:
        return statistics.median(m.cpu_per_1000 for m in measurements if m.scenario == name)

    repay, create = median("repay"), median("create")
    return repay, create, repay / create if create else float("nan")
