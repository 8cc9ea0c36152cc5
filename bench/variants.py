"""The variants (plan.Variant): loan-actors alone under the `list` load, against itself.

Each variant is measured against a `base` of its own, the two a pair (bench/slices.py): both run
at once in fresh processes (stopped after), each with a database seeded for the variants with
`data.seed(bulk=True)` (a traced variant's is a copy of base's), an events stream and a NATS server
of its own, and are loaded in turn. The main table's architectures are stopped by then: their
workers would answer in the variants' queue groups.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from actors.contracts.config import Settings
from actors.users.signing import SigningKey
from bench import data, load, plan, slices, systems
from bench.alone import Alone, Nats
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
    os.sync()  # and the checkpoint's pages on disk now, not while the first pair is measured
    folder = work / "variants"
    folder.mkdir()
    scenarios = ["list", plan.REPAY_OPEN.name]
    files = plan.build_files(plan.Requests(key, opts.shape), folder, scenarios, opts.duration, opts.warmup)
    alone = Alone(outcome, procs, base, servers, files, load.choose_tool(opts), work)
    others = [name for name in names if name != "base"]
    if others:
        with _second_nats(servers, work) as nats:
            _measure_pairs(alone, others, dbs, nats)
    elif "base" in names:  # the scale-out mode alone: its reference, no pair's
        with alone.running("x-base", dbs["x-base"]) as arch:
            m = alone.measure(arch, plan.SCENARIOS["list"])
            m.variant = "base"
            _repayments(alone, arch)
        outcome.variants.append(m)
        announce(outcome.notes, m, "base", "variant base")
    if opts.scale_out:
        run_scale_out(alone, dbs["x-base"])


def _measure_pairs(alone: Alone, others: list[str], dbs: dict[str, str], nats: Nats) -> None:
    """Each round (--rounds) measures every variant once against a `base` of its own, the two a
    pair, starting one variant later than the round before."""
    outcome = alone.outcome
    pair = 0
    for round_ in range(outcome.options.rounds):
        shift = round_ % len(others)
        for name in others[shift:] + others[:shift]:
            pair += 1
            for m in _measure_pair(alone, name, dbs, nats):
                m.round = pair
                outcome.variants.append(m)
                announce(outcome.notes, m, f"{m.variant} (pair {pair})", f"variant {m.variant}")


def _measure_pair(alone: Alone, name: str, dbs: dict[str, str], nats: Nats) -> list[Measurement]:
    """`base` and `name` running at once, each in processes, a database and a NATS server of its
    own, loaded in turn in the slices of slices.ORDER; each of the two is the merge of its slices.
    Once a run, after the slices and the variant, the repayments on the quiet `base`: started
    right after its processes, they met other load and steal in three runs of three (0.18 to 0.54
    cores; p99 37 to 165 ms), against 0.02 and 0.09 after a pair (2026-12-03)."""
    outcome, variant = alone.outcome, plan.VARIANTS[name]
    database = dbs["x-pair"] if variant.data == "base" else dbs[f"x-{variant.data}"]
    scenario = plan.SCENARIOS["list"]
    duration = outcome.options.duration / slices.SLICES_EACH
    taken: tuple[list[Measurement], list[Measurement]] = ([], [])
    with alone.running("x-base", dbs["x-base"]) as base:
        with alone.running(f"x-{name}", database, nats, **_tracing(variant)) as other:
            archs = (base, other)
            for label, arch in zip(("base", name), archs, strict=True):
                outcome.notes += [f"variant {label}: {p}" for p in smoke([arch], alone.files)]
            for who in slices.ORDER:
                m = alone.measure(archs[who], scenario, duration=duration, beside=(archs[1 - who],))
                taken[who].append(m)
        if variant.tracing:  # its processes have exited: their span files are complete
            outcome.spans[name] = _spans(other)
        _repayments(alone, base)
    measured = [slices.merged(ms) for ms in taken]
    for m, label in zip(measured, ("base", name), strict=True):
        m.variant = label
    return measured


def _tracing(variant: plan.Variant) -> dict[str, Any]:
    """What systems.start_loan_actors gets for a variant: its OTEL_* and, traced, span files."""
    otel = {"OTEL_TRACES_EXPORTER": "console" if variant.tracing else "none"}
    if variant.sample is not None:
        otel |= {
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": str(variant.sample),
        }
    return {"env": otel, "stdout_suffix": ".spans" if variant.tracing else None}


def _repayments(alone: Alone, arch: systems.Arch) -> None:
    """Once a run: repayments at --rate a second, open loop, on `arch`'s quiet processes."""
    outcome = alone.outcome
    if outcome.repay_open:
        return
    # Each repayment's commit waits on fsync: the disk should be as quiet as the processes, with
    # nothing left to write back from the seeding or a variant (a traced one's span files).
    os.sync()
    repaid = alone.measure(arch, plan.REPAY_OPEN)
    repaid.variant = "base"
    announce(outcome.notes, repaid, "repayment, open loop", "repayments at a fixed rate")
    outcome.repay_open.append(repaid)


@contextmanager
def _second_nats(servers: Servers, work: Path) -> Iterator[Nats]:
    """The NATS server of the variant of each pair (embedded, stopped after). Its CPU is counted
    when the run's own server's is: a pair's two halves are counted alike."""
    from ops.embedded import EmbeddedNats

    nats = EmbeddedNats(work / "pair")
    url = nats.start()
    try:
        yield url, nats.pid if servers.nats_pid is not None else None
    finally:
        nats.stop()


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
    if "x-pair" in dbs:  # a traced variant's, beside base's: the same rows, counted apart
        asyncio.run(data.create_database(server_url, dbs["x-pair"], template=dbs["x-base"]))


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
