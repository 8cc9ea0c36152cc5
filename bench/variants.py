"""The variants (plan.Variant): loan-actors alone under the `list` load, against itself.

Each variant runs in fresh processes (stopped after it), with an events stream of its own, on a
database seeded for the variants with `data.seed(bulk=True)`. The main table's architectures are
stopped by then: their workers would answer in the variants' queue groups.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import msgspec

from actors.contracts.config import Settings
from actors.users.signing import SigningKey
from bench import data, load, plan, systems
from bench.alone import Alone
from bench.measure import announce
from bench.outcome import Measurement, Outcome
from bench.procs import Procs
from bench.scale_out import run_scale_out
from bench.smoke import smoke
from bench.stage import Servers, with_database


def run_variants(
    outcome: Outcome,
    names: list[str],
    procs: Procs,
    base: Settings,
    servers: Servers,
    dbs: dict[str, str],
    key: SigningKey,
    work: Path,
) -> None:
    """Seed the variants' databases, then measure each variant in turn into `outcome.variants`."""
    opts = outcome.options
    _seed_variant_data(outcome, names, base, servers.database_url, dbs)
    outcome.notes += asyncio.run(_checkpoint(servers.database_url))
    folder = work / "variants"
    folder.mkdir()
    scenarios = ["list", plan.REPAY_OPEN.name]
    files = plan.build_files(plan.Requests(key, opts.shape), folder, scenarios, opts.duration, opts.warmup)
    alone = Alone(outcome, procs, base, servers, files, load.choose_tool(opts), work)
    # The machine's speed drifts over minutes (two `base` runs minutes apart have differed by 9 %),
    # and a variant's target is a ratio to `base`: so each variant is measured right after a
    # `base` of its own, the two a pair, and every round (--rounds) measures each variant once,
    # starting one variant later than the round before.
    others = [name for name in names if name != "base"] or ["base"]
    pair = 0
    for round_ in range(opts.rounds if others != ["base"] else 1):
        shift = round_ % len(others)
        for name in others[shift:] + others[:shift]:
            pair += 1
            for each in dict.fromkeys(["base", name]):
                m = _measure_variant(alone, each, dbs[f"x-{plan.VARIANTS[each].data}"])
                m.round = pair
                outcome.variants.append(m)
                announce(outcome.notes, m, f"{each} (pair {pair})", f"variant {each}")
    if opts.scale_out:
        run_scale_out(alone, dbs["x-base"])


def _seed_variant_data(
    outcome: Outcome, names: list[str], base: Settings, server_url: str, dbs: dict[str, str]
) -> None:
    opts = outcome.options
    shapes = {"base": opts.shape, "scale": opts.scale_shape}
    for kind in dict.fromkeys(plan.VARIANTS[name].data for name in names):
        shape = shapes[kind]
        print(f"variants: seeding {shape.loans:,} loans over {shape.customers:,} customers", flush=True)
        t0 = time.monotonic()
        took = asyncio.run(_seed_bulk(server_url, dbs[f"x-{kind}"], base, shape))
        outcome.timings[f"seed_{kind}"] = time.monotonic() - t0
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()), flush=True)


async def _seed_bulk(server_url: str, database: str, base: Settings, shape: data.Shape) -> dict[str, float]:
    await data.create_database(server_url, database)
    return await data.seed(with_database(base, server_url, database), shape, bulk=True)


async def _checkpoint(server_url: str) -> list[str]:
    """Write the fresh rows out now, not while a variant is measured (the checkpointer's CPU is
    counted for whichever architecture is under load)."""
    try:
        con = await asyncpg.connect(server_url)
        try:
            await con.execute("CHECKPOINT")
        finally:
            await con.close()
    except asyncpg.PostgresError as exc:
        return [
            f"Could not CHECKPOINT after seeding the variants' databases ({exc}): a checkpoint may "
            "have run during their measurements."
        ]
    return []


def _measure_variant(alone: Alone, name: str, database: str) -> Measurement:
    """One variant in processes of its own, stopped (which flushes their spans) once measured."""
    outcome, variant = alone.outcome, plan.VARIANTS[name]
    otel = {"OTEL_TRACES_EXPORTER": "console" if variant.tracing else "none"}
    if variant.sample is not None:
        otel |= {
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": str(variant.sample),
        }
    suffix = ".spans" if variant.tracing else None
    with alone.running(f"x-{name}", database, env=otel, stdout_suffix=suffix) as arch:
        outcome.notes += [f"variant {name}: {p}" for p in smoke([arch], alone.files)]
        m = alone.measure(arch, plan.SCENARIOS["list"])
        if name == "base" and not outcome.repay_open:
            # repayments at --rate a second, open loop, on these quiet processes
            repaid = alone.measure(arch, plan.REPAY_OPEN)
            repaid.variant = "base"
            announce(outcome.notes, repaid, "repayment, open loop", "repayments at a fixed rate")
            outcome.repay_open.append(repaid)
    m.variant = name
    if variant.tracing:
        outcome.spans[name] = _spans(arch)
    return m


class _SpanContext(msgspec.Struct):
    trace_id: str


class _Span(msgspec.Struct):
    context: _SpanContext


def _spans(arch: systems.Arch) -> dict[str, int]:
    """What the traced processes wrote (their span files are complete: the processes have exited),
    and how many spans their batch processors dropped (the SDK logs each one: "Queue full")."""
    decode = msgspec.json.Decoder(_Span).decode
    out = {"spans": 0, "bytes": 0, "dropped": 0}
    traces: set[str] = set()
    for role, proc in arch.procs.items():
        dropped = proc.log.read_bytes().count(b"Queue full, dropping") if proc.log.exists() else 0
        out["dropped"] += dropped
        if proc.stdout is None or not proc.stdout.exists():
            continue
        raw = proc.stdout.read_bytes()
        spans = [line for line in raw.split(b"\n") if line.startswith(b"{")]
        for line in spans:
            try:
                traces.add(decode(line).context.trace_id)
            except msgspec.DecodeError:
                continue
        out[f"spans {role}"] = len(spans)
        out["spans"] += len(spans)
        out["bytes"] += len(raw)
    out["traces"] = len(traces)
    return out
