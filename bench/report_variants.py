"""The report's section on loan-actors alone (plan.VARIANTS): its table, issue 7's targets, notes."""

from __future__ import annotations

import math

from bench import plan
from bench.cells import figure, find, per_process
from bench.outcome import Measurement, Outcome

SCALE_TARGET = 1.5  # issue 7: the list's p99 at 1,000,000 loans within 1.5 × of its p99 at 100,000
TRACING_TARGET = 0.15  # issue 7: tracing on, batch exporter to a file, costs ≤ 15 % of throughput


def variants_text(outcome: Outcome) -> str:
    """loan-actors alone (plan.VARIANTS): the table, the targets of issue 7 they measure, the spans."""
    if not outcome.variants:
        return ""
    parts = [_table(outcome)]
    targets = _targets(outcome)
    if targets:
        parts.append("\n| target (issue 7) | measured | |\n|---|---|---|\n" + "\n".join(targets) + "\n")
    parts.append("\n" + "\n".join(_notes(outcome)) + "\n")
    return "".join(parts)


def _table(outcome: Outcome) -> str:
    rows = []
    for m in outcome.variants:
        lat = m.result.latencies_ms
        tracing = "on: batch → file" if plan.VARIANTS[m.variant].tracing else "off (none)"
        rows.append(
            f"| {m.variant} | {_variant_data(outcome, m)} | {tracing} | {m.tool}, {m.connections} conn | "
            f"{m.rps:.1f} | {figure(lat.get('p50', math.nan))} | {figure(lat.get('p99', math.nan))} | "
            f"{figure(lat.get('p99.9', math.nan))} | {m.result.errors} | {figure(m.cpu_per_1000, 3)} | "
            f"{per_process(m)} |"
        )
    return (
        "| variant | data | tracing | load | req/s | p50 ms | p99 ms | p99.9 ms | errors | "
        "CPU s / 1000 req | of which, per process (s / 1000 req) |\n"
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|\n" + "\n".join(rows) + "\n"
    )


def _variant_data(outcome: Outcome, m: Measurement) -> str:
    o = outcome.options
    shape = o.scale_shape if plan.VARIANTS[m.variant].data == "scale" else o.shape
    return f"{shape.loans:,} loans, {shape.customers:,} customers ({shape.loans / shape.customers:,.0f} each)"


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def _by_variant(outcome: Outcome) -> dict[str, Measurement]:
    return {m.variant: m for m in outcome.variants}


def _targets(outcome: Outcome) -> list[str]:
    """The rows of issue 7's targets that the variants run can tell."""
    by = _by_variant(outcome)
    base, scale, traced = by.get("base"), by.get("scale"), by.get("traced")
    targets = []
    if base is not None and scale is not None:
        targets.append(_scale_target(outcome, base, scale))
    if base is not None and traced is not None:
        targets += _tracing_targets(base, traced)
    return targets


def _scale_target(outcome: Outcome, base: Measurement, scale: Measurement) -> str:
    o = outcome.options
    p99 = scale.result.latencies_ms.get("p99", math.nan)
    ref = base.result.latencies_ms.get("p99", math.nan)
    ratio = p99 / ref if ref else math.nan
    return (
        f"| GET list p99 at {o.scale_shape.loans:,} loans ≤ {SCALE_TARGET:g} × at {o.shape.loans:,} | "
        f"{figure(p99)} vs {figure(ref)} ms ({figure(ratio)} ×) | {_met(ratio <= SCALE_TARGET)} |"
    )


def _tracing_targets(base: Measurement, traced: Measurement) -> list[str]:
    kept = traced.rps / base.rps if base.rps else math.nan
    cost = 1 - kept
    cpu = traced.cpu_per_1000 / base.cpu_per_1000 - 1 if base.cpu_per_1000 else math.nan
    return [
        f"| tracing on (batch exporter, to a file) costs ≤ {TRACING_TARGET:.0%} of GET list req/s | "
        f"{traced.rps:.0f} vs {base.rps:.0f} req/s off ({figure(kept)} ×, {-cost:+.1%}) | "
        f"{_met(cost <= TRACING_TARGET)} |",
        f"| CPU per request, tracing on vs off (for information) | {figure(traced.cpu_per_1000, 3)} vs "
        f"{figure(base.cpu_per_1000, 3)} ms ({cpu:+.1%}) | |",
    ]


def _notes(outcome: Outcome) -> list[str]:
    """How the variants ran; what the traced one wrote; what tracing off gave."""
    by = _by_variant(outcome)
    base, scale, traced = by.get("base"), by.get("scale"), by.get("traced")
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
        notes.append(_spans_note(outcome.spans))
    if base is not None and traced is not None:
        notes.append(_tracing_off_note(outcome, base))
    return notes


def _spans_note(sp: dict[str, int]) -> str:
    per = sp.get("spans", 0) / sp["traces"] if sp.get("traces") else math.nan
    by_role = ", ".join(f"{k.removeprefix('spans ')} {v:,}" for k, v in sp.items() if k.startswith("spans "))
    return (
        "- `traced`: OTEL_TRACES_EXPORTER=console in the edge and both workers, i.e. the SDK's "
        "BatchSpanProcessor (its defaults, or OTEL_BSP_* from the bench's environment) handing "
        "batches to a ConsoleSpanExporter that writes one JSON span a line to stdout, which is a "
        f"file. It wrote {sp.get('spans', 0):,} spans ({by_role}) in {sp.get('traces', 0):,} traces "
        f"({figure(per, 1)} a trace; warm-up and smoke requests included), {sp.get('bytes', 0) / 1e6:.1f} MB."
        + (
            f" **{sp['dropped']:,} spans were dropped** (the SDK's queue was full, and said so in "
            "the log): their export is not in the cost above."
            if sp.get("dropped")
            else " None was dropped."
        )
    )


def _tracing_off_note(outcome: Outcome, base: Measurement) -> str:
    main = find(outcome, "list", "loan-actors")
    also = (
        f"; the main table's list row for loan-actors, also with tracing off, gave {main.rps:.0f} req/s "
        f"and {figure(main.cpu_per_1000, 3)} ms (how far two runs of one configuration differ)"
        if main is not None
        else ""
    )
    return (
        "- Tracing off is the default, and what every other row of this report runs: no SDK provider "
        "is installed and the traced code paths skip their calls after one check of a module global. "
        "That check cannot be taken out for a run without it, so what off costs is not measured "
        f"here; off gave {base.rps:.0f} req/s and {figure(base.cpu_per_1000, 3)} ms of CPU per request{also}."
    )
