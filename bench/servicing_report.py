"""The servicing bench's report: results/<date>-servicing.md and .json (`-servicing-quick` for
--quick, so a smoke run does not overwrite the day's full run)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.outcome import Measurement
from bench.servicing_cob import CobRun

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {100_000: 20.0, 1_000_000: 180.0}  # issue 13 item 7: accounts → wall seconds at most
RATIO_TARGET = 1.5


@dataclass
class ServicingOutcome:
    quick: bool
    command: str
    business_date: str
    cob_date: str
    runs: list[CobRun] = field(default_factory=list)
    writes: list[Measurement] = field(default_factory=list)
    ratio: tuple[float, float, float] | None = None  # repay, create CPU s / 1000 req; repay/create
    seeds: dict[str, dict[str, float]] = field(default_factory=dict)  # accounts → step → seconds
    notes: list[str] = field(default_factory=list)
    label: str = ""  # --label: the files are <date>-servicing-<label>.md (an experiment's)


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def targets(o: ServicingOutcome) -> list[str]:
    """One line per target of issue 13 item 7 that this run's figures can judge."""
    lines = []
    for run in o.runs:
        limit = TARGETS.get(run.accounts)
        if limit is not None:
            lines.append(f"{run.name}: {run.wall:.1f} s ≤ {limit:g} s: {_mark(run.wall <= limit)}")
    by = {(r.accounts, r.workers): r for r in o.runs}
    for (accounts, workers), run in by.items():
        one = by.get((accounts, 1))
        if workers == 2 and one is not None:
            lines.append(
                f"{accounts:,} accounts, 2 workers faster than 1: {run.wall:.1f} s against {one.wall:.1f} s "
                f"({one.wall / run.wall:.2f} ×): {_mark(run.wall < one.wall)}"
            )
    if o.ratio is not None:
        lines.append(
            f"repayment CPU per request ≤ {RATIO_TARGET:g} × a create's: {o.ratio[2]:.2f} ×: "
            f"{_mark(o.ratio[2] <= RATIO_TARGET)}"
        )
    return lines


def render(o: ServicingOutcome) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# Servicing bench, {'quick run' if o.quick else 'run'} of {when}\n", f"`{o.command}`\n"]
    out.append(f"\nClose of business from {o.business_date} to {o.cob_date} (one day).\n\n")
    out.append(
        "| run | accounts | workers | wall s | accounts/s | CPU s (servicing + Postgres) | "
        "CPU s by component | batches | events | s between a worker's batches (median / p90 / max) | "
        "other load |\n"
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|\n"
    )
    for r in o.runs:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r.cpu.items()))
        b = r.batch_seconds
        per_batch = f"{b['median']:.3f} / {b['p90']:.3f} / {b['max']:.3f}" if b else ""
        out.append(
            f"| {r.name} | {r.accounts:,} | {r.workers} | {r.wall:.1f} | {r.rate:,.0f} | "
            f"{r.cpu_servicing:.1f} | {parts} | {r.batches} | {r.events:,} | {per_batch} | "
            f"{r.foreign_cores:.2f} cores |\n"
        )
    for r in o.runs:
        if r.judged != r.accounts:
            out.append(f"\n**{r.name}: {r.judged:,} accounts judged of {r.accounts:,}.**\n")
    if o.writes:
        out.append("\n## Repayment against create, through the edge\n\n")
        out.append(
            "| round | scenario | req/s | p50 ms | p99 ms | errors | CPU s / 1000 req "
            "| of which, by component |\n"
        )
        out.append("|---:|---|---:|---:|---:|---:|---:|---|\n")
        for m in o.writes:
            done = (m.result.requests + m.in_flight) / 1000 or 1.0
            parts = ", ".join(f"{k} {v / done:.3f}" for k, v in sorted(m.cpu.items()))
            lat = m.result.latencies_ms
            out.append(
                f"| {m.round} | {m.scenario} | {m.rps:.1f} | {lat.get('p50', 0):.2f} "
                f"| {lat.get('p99', 0):.2f} | {m.result.errors} | {m.cpu_per_1000:.3f} | {parts} |\n"
            )
        if o.ratio is not None:
            out.append(
                f"\nMedian CPU per 1,000 requests: repayment {o.ratio[0]:.3f} s, create {o.ratio[1]:.3f} s: "
                f"ratio {o.ratio[2]:.2f}.\n"
            )
    out.append("\n## Targets\n\n" + "".join(f"- {line}\n" for line in targets(o)))
    if o.notes:
        out.append("\n## Notes\n\n" + "".join(f"- {n}\n" for n in o.notes))
    seeds = "; ".join(f"{n}: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()) for n, t in o.seeds.items())
    out.append(f"\nSeeding (s): {seeds}\n")
    return "".join(out)


def write(o: ServicingOutcome) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stem = datetime.now(UTC).strftime("%Y-%m-%d") + ("-servicing-quick" if o.quick else "-servicing")
    stem += f"-{o.label}" if o.label else ""
    path = RESULTS / f"{stem}.md"
    path.write_text(render(o))
    figures = asdict(o)
    figures["runs"] = [
        {**asdict(r), "accounts_per_s": r.rate, "cpu_servicing": r.cpu_servicing} for r in o.runs
    ]
    figures["writes"] = [{**asdict(m), "rps": m.rps, "cpu_per_1000": m.cpu_per_1000} for m in o.writes]
    (RESULTS / f"{stem}.json").write_text(json.dumps(figures, indent=1, default=str))
    return path
