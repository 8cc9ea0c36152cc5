"""The report's section on issue 18's targets: each with its figure and whether it was met."""

from __future__ import annotations

import math
import statistics

from bench.cells import figure
from bench.outcome import Measurement, Outcome
from bench.report_variants import TRACING_TARGETS, tracing_cost

WRITE_CPU_TARGET = 1.5  # POST create and PUT decide: CPU per request ≤ 1.5 × direct's
LIST_OPEN_TARGET = (2.5, 5.0)  # GET list at a fixed 100 req/s: p50, p99 (ms)
REPAY_OPEN_TARGET = 10.0  # a repayment at a fixed 100 req/s: p99 (ms)


def targets_text(outcome: Outcome) -> str:
    rows = [*_tracing(outcome), *_writes(outcome), *_quiet(outcome)]
    if not rows:
        return ""
    return "| target (issue 18) | measured | |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _tracing(outcome: Outcome) -> list[str]:
    rows = []
    for name, target in TRACING_TARGETS.items():
        cost = tracing_cost(outcome, name)
        if cost is not None:
            rows.append(
                f"| `{name}`: GET list req/s lost to tracing ≤ {target:.0%} | {cost:.1%} "
                f"(median of pairs, each against the `base` run beside it) | {_met(cost <= target)} |"
            )
    return rows


def _cpu(outcome: Outcome, scenario: str, arch: str) -> float | None:
    runs = [
        m.cpu_per_1000
        for m in (*outcome.measurements, *outcome.rounds)
        if m.scenario == scenario and m.arch == arch and not math.isnan(m.cpu_per_1000)
    ]
    return statistics.median(runs) if runs else None


def _writes(outcome: Outcome) -> list[str]:
    rows = []
    for scenario, label in (("create", "POST create"), ("decide", "PUT decide")):
        ours, direct = _cpu(outcome, scenario, "loan-actors"), _cpu(outcome, scenario, "direct")
        if ours is None or direct is None or not direct:
            continue
        ratio = ours / direct
        rows.append(
            f"| {label}: CPU per request ≤ {WRITE_CPU_TARGET:g} × direct's | {figure(ratio)} × "
            f"({figure(ours, 3)} vs {figure(direct, 3)} ms) | {_met(ratio <= WRITE_CPU_TARGET)} |"
        )
    return rows


def _latency(m: Measurement, at: str) -> float:
    return m.result.latencies_ms.get(at, math.nan)


def _quiet(outcome: Outcome) -> list[str]:
    rows = []
    listed = next(
        (m for m in outcome.measurements if m.scenario == "list-open" and m.arch == "loan-actors"), None
    )
    if listed is not None:
        p50, p99 = _latency(listed, "p50"), _latency(listed, "p99")
        rows.append(
            f"| GET list at {outcome.options.rate:g} req/s, open loop: p50 ≤ {LIST_OPEN_TARGET[0]:g} ms, "
            f"p99 ≤ {LIST_OPEN_TARGET[1]:g} ms | {figure(p50)} / {figure(p99)} ms | "
            f"{_met(p50 <= LIST_OPEN_TARGET[0] and p99 <= LIST_OPEN_TARGET[1])} |"
        )
    for m in outcome.repay_open:
        p50, p99 = _latency(m, "p50"), _latency(m, "p99")
        rows.append(
            f"| a repayment at {outcome.options.rate:g} req/s, open loop: p99 ≤ {REPAY_OPEN_TARGET:g} ms | "
            f"{figure(p99)} ms (p50 {figure(p50)}, {m.result.errors} errors) | "
            f"{_met(p99 <= REPAY_OPEN_TARGET)} |"
        )
    return rows
