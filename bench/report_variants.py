"""The report's section on loan-actors alone (plan.VARIANTS): its table, issue 7's targets, notes."""

from __future__ import annotations

import math
import statistics

from bench import plan
from bench.cells import figure, find, per_process
from bench.outcome import Measurement, Outcome

SCALE_TARGET = 1.5  # issue 7: the list's p99 at 1,000,000 loans within 1.5 × of its p99 at 100,000
# issue 18: tracing on, batch exporter to a file, costs ≤ 15 % of GET list throughput; ≤ 3 % when
# one trace in ten is sampled (parentbased_traceidratio at 0.1)
TRACING_TARGETS = {"traced": 0.15, "traced-0.1": 0.03}


def variants_text(outcome: Outcome) -> str:
    """loan-actors alone (plan.VARIANTS): the table, the targets of issue 7 they measure, the spans."""
    if not outcome.variants:
        return ""
    parts = [_table(outcome)]
    targets = _targets(outcome)
    if targets:
        parts.append("\n| target | measured | |\n|---|---|---|\n" + "\n".join(targets) + "\n")
    parts.append("\n" + "\n".join(_notes(outcome)) + "\n")
    return "".join(parts)


def _table(outcome: Outcome) -> str:
    rows = []
    for m in outcome.variants:
        lat = m.result.latencies_ms
        variant = plan.VARIANTS[m.variant]
        sampled = "all" if variant.sample is None else f"{variant.sample:g} sampled"
        tracing = f"on ({sampled}): batch → file" if variant.tracing else "off (none)"
        rows.append(
            f"| {m.variant} | {m.round} | {_variant_data(outcome, m)} | {tracing} | "
            f"{m.tool}, {m.connections} conn | "
            f"{m.rps:.1f} | {figure(lat.get('p50', math.nan))} | {figure(lat.get('p99', math.nan))} | "
            f"{figure(lat.get('p99.9', math.nan))} | {m.result.errors} | {figure(m.cpu_per_1000, 3)} | "
            f"{per_process(m)} |"
        )
    return (
        "| variant | pair | data | tracing | load | req/s | p50 ms | p99 ms | p99.9 ms | errors | "
        "CPU s / 1000 req | of which, per process (s / 1000 req) |\n"
        "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|\n" + "\n".join(rows) + "\n"
    )


def _variant_data(outcome: Outcome, m: Measurement) -> str:
    o = outcome.options
    shape = o.scale_shape if plan.VARIANTS[m.variant].data == "scale" else o.shape
    return f"{shape.loans:,} loans, {shape.customers:,} customers ({shape.loans / shape.customers:,.0f} each)"


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def _by_variant(outcome: Outcome) -> dict[str, Measurement]:
    """Each variant's last measurement (the notes' figures)."""
    return {m.variant: m for m in outcome.variants}


def _rounds(outcome: Outcome) -> dict[int, dict[str, Measurement]]:
    by: dict[int, dict[str, Measurement]] = {}
    for m in outcome.variants:
        by.setdefault(m.round, {})[m.variant] = m
    return by


def _targets(outcome: Outcome) -> list[str]:
    """The rows of the targets that the variants tell: each a ratio within one pair (a variant and
    the `base` loaded in turn with it: the machine's speed drifts), the median of the pairs,
    every pair's figure beside it."""
    rounds = _rounds(outcome).values()
    targets = []
    scale = [(r["scale"], r["base"]) for r in rounds if "scale" in r and "base" in r]
    if scale:
        targets.append(_scale_target(outcome, scale))
    for name, target in TRACING_TARGETS.items():
        pairs = [(r[name], r["base"]) for r in rounds if name in r and "base" in r]
        if pairs:
            targets += _tracing_targets(name, target, pairs)
    return targets


def _p99(m: Measurement) -> float:
    return m.result.latencies_ms.get("p99", math.nan)


def _scale_target(outcome: Outcome, pairs: list[tuple[Measurement, Measurement]]) -> str:
    o = outcome.options
    ratios = [_p99(scale) / _p99(base) if _p99(base) else math.nan for scale, base in pairs]
    ratio = statistics.median(ratios)
    each = ", ".join(f"{_p99(scale):.1f} vs {_p99(base):.1f}" for scale, base in pairs)
    return (
        f"| GET list p99 at {o.scale_shape.loans:,} loans ≤ {SCALE_TARGET:g} × at {o.shape.loans:,} | "
        f"{figure(ratio)} × (median of pairs; ms by pair: {each}) | {_met(ratio <= SCALE_TARGET)} |"
    )


def tracing_cost(outcome: Outcome, name: str) -> float | None:
    """The median over pairs of the GET list req/s lost by variant `name` against its `base`."""
    pairs = [(r[name], r["base"]) for r in _rounds(outcome).values() if name in r and "base" in r]
    costs = [1 - traced.rps / base.rps for traced, base in pairs if base.rps]
    return statistics.median(costs) if costs else None


def _tracing_targets(name: str, target: float, pairs: list[tuple[Measurement, Measurement]]) -> list[str]:
    costs = [1 - traced.rps / base.rps if base.rps else math.nan for traced, base in pairs]
    cpus = [
        traced.cpu_per_1000 / base.cpu_per_1000 - 1 if base.cpu_per_1000 else math.nan
        for traced, base in pairs
    ]
    cost, cpu = statistics.median(costs), statistics.median(cpus)
    variant = plan.VARIANTS[name]
    sampled = "every request" if variant.sample is None else f"{variant.sample:g} of requests"
    each = ", ".join(f"{traced.rps:.0f} vs {base.rps:.0f}" for traced, base in pairs)
    return [
        f"| `{name}`: tracing {sampled} costs ≤ {target:.0%} of GET list req/s | "
        f"{-cost:+.1%} (median of pairs; req/s by pair, traced vs off: {each}) | {_met(cost <= target)} |",
        f"| `{name}`: CPU per request vs off (for information) | {cpu:+.1%} (median; by pair: "
        + ", ".join(f"{c:+.1%}" for c in cpus)
        + ") | |",
    ]


def _notes(outcome: Outcome) -> list[str]:
    """How the variants ran; what the traced one wrote; what tracing off gave."""
    by = _by_variant(outcome)
    base, scale = by.get("base"), by.get("scale")
    notes = [
        "- Variants: "
        + "; ".join(
            f"`{name}`: {plan.VARIANTS[name].title}"
            for name in dict.fromkeys(m.variant for m in outcome.variants)
        ),
        "- Each variant is loan-actors alone (the main table's processes stopped), in fresh processes "
        "(edge and both workers, one events stream of its own), under the `list` load of the main table "
        "(the same requests, the same warm-up and duration), on a database seeded for the variants "
        "(`data.seed(bulk=True)`: secondary indexes built after the rows, then VACUUM (ANALYZE) and a "
        "CHECKPOINT)"
        + (", both the same way: `base` and `scale` differ in their size only." if scale else "."),
        "- A pair's two run at once, each with a NATS server and a database of its own (a traced "
        "variant's is a copy of base's), and the load goes to each in turn, in four slices of half the "
        "duration: base, variant, variant, base (bench/slices.py), so a drift of the machine's speed "
        "during the pair moves both alike. A row is the sum of its two slices (req/s, CPU); its "
        "latency percentiles are the slices', weighted by their requests.",
    ]
    for name, written in outcome.spans.items():
        notes.append(_spans_note(name, written))
    if base is not None and outcome.spans:
        notes.append(_tracing_off_note(outcome, base))
    return notes


def _spans_note(name: str, sp: dict[str, int]) -> str:
    per = sp.get("spans", 0) / sp["traces"] if sp.get("traces") else math.nan
    by_role = ", ".join(f"{k.removeprefix('spans ')} {v:,}" for k, v in sp.items() if k.startswith("spans "))
    return (
        f"- `{name}` (its last pair): OTEL_TRACES_EXPORTER=console in the edge and both workers, "
        "i.e. the SDK's "
        "BatchSpanProcessor (its defaults, or OTEL_BSP_* from the bench's environment) handing "
        "batches to otel/export.py's LineExporter, which writes a batch of JSON spans, one a line, "
        "to stdout (a file) in one call. "
        f"It wrote {sp.get('spans', 0):,} spans ({by_role}) in {sp.get('traces', 0):,} traces "
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
