"""One bench run: servers, seed, the three architectures, every scenario against each, teardown.

Everything started here is stopped in `finally` (process groups, by pid), the embedded servers
last; databases made on a server given by URL are dropped. A SIGALRM bounds the whole run.
Each step is a module of its own: stage (servers, settings, databases, architectures), smoke,
measure (with load), profile, facts (memory, versions), variants.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from actors.contracts.config import Settings, load_settings
from actors.users.signing import load_or_create
from bench import data, facts, load, plan, slices, stage, systems
from bench.measure import errors_note, measure, progress
from bench.outcome import RATIO_SCENARIOS, Measurement, Options, Outcome
from bench.procs import Procs
from bench.profile import profile
from bench.scale_out import SHAPES
from bench.smoke import smoke
from bench.variants import run_variants


class BenchTimeout(Exception):
    pass


def budget(opts: Options) -> int:
    """Seconds the whole run may take before SIGALRM stops it."""
    per_run = opts.warmup + opts.duration + opts.machine_quiet_limit + 8
    repeats = (opts.rounds - 1) * sum(n in opts.scenarios for n in RATIO_SCENARIOS)
    # a ratio's scenario is measured in two slices per architecture: one warm-up more each
    sliced = repeats + sum(n in opts.scenarios for n in RATIO_SCENARIOS)
    runs = (len(opts.scenarios) + repeats + sliced) * len(systems.ARCHS) + (3 if opts.profile else 0)
    variants = plan.variants(opts.scale, opts.tracing, opts.scale_out)
    # a variant also starts and stops its own processes; seeding a million loans takes about 40 s
    # each variant beside a `base` of its own, in four slices (bench/variants.py), --rounds times
    variant_runs = 4 * max(len(variants) - 1, 1) * opts.rounds + (len(SHAPES) if opts.scale_out else 0)
    extra = variant_runs * 40 + (opts.scale_shape.loans // 5_000 if opts.scale else 0)
    return int((60 if opts.quick else 240) + (runs + variant_runs) * per_run + extra)


@dataclass
class _Run:
    """What every step of one run shares, and what teardown undoes."""

    outcome: Outcome
    work: Path
    procs: Procs
    stack: ExitStack  # the embedded servers, stopped last
    env: Settings  # the bench's own LOANS_* environment
    run_id: str
    made: list[str] = field(default_factory=list)  # databases to drop on a server given by URL

    @property
    def opts(self) -> Options:
        return self.outcome.options


def run(opts: Options) -> Outcome:
    """Run everything `opts` asks for; whatever happens, stop and remove all that was started."""
    work = Path(tempfile.mkdtemp(prefix="loans-bench-"))
    (work / "logs").mkdir()
    r = _Run(Outcome(opts), work, Procs(work / "logs"), ExitStack(), load_settings(), uuid.uuid4().hex[:6])
    t_start = time.monotonic()
    try:
        with _bounded(budget(opts)):
            _steps(r, t_start)
    finally:
        _tear_down(r, t_start)
    return r.outcome


@contextlib.contextmanager
def _bounded(seconds: int) -> Iterator[None]:
    """SIGALRM after `seconds`; SIGTERM and SIGINT raise too, so that `finally` still runs."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    previous_term = signal.signal(signal.SIGTERM, _terminated)
    # a shell starts a background job with SIGINT ignored: `kill -INT` should still stop the bench
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def _alarm(signum: int, frame: object) -> None:
    raise BenchTimeout("the bench ran past its time budget; stopping everything")


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit("bench: stopped by SIGTERM; stopping everything it started")


def _steps(r: _Run, t_start: float) -> None:
    """The run's steps in order: stage, smoke check, measure, profile, facts, variants."""
    opts, outcome = r.opts, r.outcome
    servers = stage.start_servers(r.env, r.work, r.stack, outcome)
    outcome.timings["servers"] = time.monotonic() - t_start
    dbs = stage.database_names(r.run_id, opts)
    r.made = list(dbs.values())
    base = stage.base_settings(r.env, servers, r.work, r.run_id, outcome)
    _seed(outcome, servers, dbs, base)
    key = load_or_create(Path(base.jwt_private_key_file or ""))
    t0 = time.monotonic()
    archs = stage.start_archs(r.procs, base, servers, dbs, opts.client)
    outcome.timings["start_archs"] = time.monotonic() - t0
    files = plan.build_files(
        plan.Requests(key, opts.shape), r.work, opts.scenarios, opts.duration, opts.warmup
    )
    outcome.notes += smoke(archs, files)
    table = _Table(opts, archs, files, servers.postmaster, load.choose_tool(opts), r.work)
    _main_table(outcome, table)
    _rounds(outcome, table)
    if opts.profile:
        outcome.profile = profile(archs, opts.profile, files[opts.profile], opts, r.work)
        outcome.profiled = opts.profile
    outcome.notes += asyncio.run(facts.idempotency_note(servers.database_url, dbs))
    outcome.memory = facts.memory(archs, servers.postmaster)
    outcome.versions = facts.versions(servers.database_url)
    variants = plan.variants(opts.scale, opts.tracing, opts.scale_out)
    if variants:
        for arch in archs:  # their workers would answer in the variants' queue groups
            stage.stop_arch(r.procs, arch)
        run_variants(outcome, variants, r.procs, base, servers, dbs, key, r.work)


def _seed(outcome: Outcome, servers: stage.Servers, dbs: dict[str, str], base: Settings) -> None:
    t0 = time.monotonic()
    outcome.timings.update(
        asyncio.run(stage.seed_databases(servers.database_url, dbs, base, outcome.options.shape))
    )
    outcome.timings["seed_total"] = time.monotonic() - t0


@dataclass
class _Table:
    """The main table's architectures, request files and load generator: one measurement each."""

    opts: Options
    archs: list[systems.Arch]
    files: dict[str, plan.Files]
    postmaster: int | None
    tool: str
    work: Path

    def measure(self, name: str, arch: systems.Arch, duration: float | None = None) -> Measurement:
        scenario, files = plan.SCENARIOS[name], self.files[name]
        opts = self.opts if duration is None else dataclasses.replace(self.opts, duration=duration)
        m = measure(arch, self.archs, scenario, files, opts, self.postmaster, self.tool, self.work)
        print(progress(m), flush=True)
        return m

    def measure_all(self, name: str, archs: list[systems.Arch]) -> list[Measurement]:
        """`name` on each of `archs`, in their order. A scenario of the ratios (list, create) is
        measured in slices of half the duration, in that order and back (A B C C B A,
        bench/slices.py): a drift of the machine's speed meets every architecture alike. The
        others once each: a decision's requests can be sent only once."""
        if name not in RATIO_SCENARIOS:
            return [self.measure(name, arch) for arch in archs]
        taken: list[list[Measurement]] = [[] for _ in archs]
        for i in slices.palindrome(len(archs)):
            taken[i].append(self.measure(name, archs[i], self.opts.duration / slices.SLICES_EACH))
        return [slices.merged(each) for each in taken]


def _main_table(outcome: Outcome, table: _Table) -> None:
    """Every scenario on every architecture, one after another; a note for each with errors."""
    for name in outcome.options.scenarios:
        for m in table.measure_all(name, table.archs):
            outcome.measurements.append(m)
            problem = errors_note(m, f"{name} on {m.arch}")
            if problem is not None:
                print(problem, flush=True)
                outcome.notes.append(problem)


def _rounds(outcome: Outcome, table: _Table) -> None:
    """--rounds: the ratios' scenarios again, each round starting with another architecture (a
    machine whose speed drifts over minutes then moves every architecture's figures)."""
    opts, archs = outcome.options, table.archs
    for again in range(2, opts.rounds + 1):
        turn = (again - 1) % len(archs)
        for name in (n for n in RATIO_SCENARIOS if n in opts.scenarios):
            for m in table.measure_all(name, archs[turn:] + archs[:turn]):
                m.round = again
                outcome.rounds.append(m)


def _tear_down(r: _Run, t_start: float) -> None:
    """Stop every process, drop the databases made on a given server, stop the embedded servers."""
    t0 = time.monotonic()
    r.procs.stop_all()
    if r.env.database_url is not None and r.made:
        try:
            asyncio.run(data.drop_databases(r.env.database_url, r.made, stage.actor_roles(r.run_id)))
        except Exception as exc:  # report, never mask the run's own error
            print(f"bench: could not drop {r.made}: {exc}")
    r.stack.close()
    r.outcome.timings["teardown"] = time.monotonic() - t0
    r.outcome.timings["total"] = time.monotonic() - t_start
    if r.opts.keep:
        print(f"bench: logs and data kept in {r.work}")
    else:
        shutil.rmtree(r.work, ignore_errors=True)
