"""One measurement: one scenario's load on one architecture, and the CPU every process spent on it.

The CPU is counted from the start of the load until every process of every architecture is quiet
again (the outbox relay, consumers and requests in flight finish after the load stops). What the
rest of the machine did meanwhile is what is left of its busy time once the bench's own processes
are taken out: the report warns when that was much.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import cpu, load, plan, systems
from bench.outcome import Measurement, Options


def measure(
    arch: systems.Arch,
    archs: list[systems.Arch],
    scenario: plan.Scenario,
    files: plan.Files,
    opts: Options,
    postmaster: int | None,
    tool: str,
    work: Path,
) -> Measurement:
    """Warm up, wait for quiet, run the load (and its login storm), count until quiet again."""
    load.warm_up(arch.port, scenario, files, opts)
    everything = [a.scope(postmaster) for a in archs]
    if opts.machine_quiet_limit > 0:  # a shared machine: let another test suite's burst pass first
        cpu.wait_machine_quiet(everything, opts.machine_quiet_limit)
    cpu.wait_quiet(everything, opts.quiet_limit)  # nothing left over from the warm-up or another arch
    meter = _Meter.start(arch.scope(postmaster), everything)
    storm = load.start_storm(arch.port, files, opts, work) if scenario.storm else None
    result, used = load.apply(arch.port, scenario, files, opts, tool, work)
    companion = load.finish_storm(storm) if storm is not None else None
    meter.load_done()
    cpu.wait_quiet(everything, opts.quiet_limit)  # the outbox relay, consumers, requests in flight
    reading = meter.read()
    conns = load.connections(scenario, opts)
    return Measurement(
        scenario=scenario.name,
        arch=arch.name,
        tool=used if scenario.mode == "closed" else f"{used} open {opts.rate:g}/s",
        connections=conns,
        result=result,
        cpu=reading.cpu,
        loadgen_cpu=reading.loadgen_cpu,
        in_flight=conns if used == "wrk" and not result.exhausted else 0,
        window=reading.window,
        foreign_cores=reading.foreign_cores,
        steal_cores=reading.steal_cores,
        companion=companion,
    )


@dataclass
class _Reading:
    cpu: dict[str, float]  # component → CPU seconds of the architecture measured
    loadgen_cpu: float
    window: float
    foreign_cores: float
    steal_cores: float


@dataclass
class _Meter:
    """CPU counters read before the load, and again once everything is quiet after it."""

    scope: cpu.Scope  # the architecture measured
    everything: list[cpu.Scope]  # every architecture's processes: the bench's own
    names: dict[int, str]
    ours: dict[int, str]
    before: dict[int, int]
    ours_before: dict[int, int]
    machine_before: tuple[float, float]
    self_before: float
    t0: float
    gen_before: float
    gen_cpu: float = field(default=0.0)

    @classmethod
    def start(cls, scope: cpu.Scope, everything: list[cpu.Scope]) -> _Meter:
        names = scope.pids()
        ours = {pid: "" for s in everything for pid in s.pids()}
        before, ours_before = cpu.snapshot(names), cpu.snapshot(ours)
        machine_before, self_before, t0 = cpu.machine_busy(), _self_cpu(), time.monotonic()
        gen_before = _children_cpu()
        return cls(
            scope, everything, names, ours, before, ours_before, machine_before, self_before, t0, gen_before
        )

    def load_done(self) -> None:
        """The generators have exited: their CPU is all counted now."""
        self.gen_cpu = _children_cpu() - self.gen_before

    def read(self) -> _Reading:
        # processes started during the load (a Postgres backend, say) count too
        names = {**self.names, **self.scope.pids()}
        ours = {**self.ours, **{pid: "" for s in self.everything for pid in s.pids()}}
        after, ours_after = cpu.snapshot(names), cpu.snapshot(ours)
        machine_after, window = cpu.machine_busy(), time.monotonic() - self.t0
        bench_cpu = sum(cpu.cpu_by_component(self.ours_before, ours_after, ours).values())
        bench_cpu += self.gen_cpu + _self_cpu() - self.self_before
        foreign = machine_after[0] - self.machine_before[0] - bench_cpu
        return _Reading(
            cpu=cpu.cpu_by_component(self.before, after, names),
            loadgen_cpu=self.gen_cpu,
            window=window,
            foreign_cores=max(0.0, foreign / window),
            steal_cores=(machine_after[1] - self.machine_before[1]) / window,
        )


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def progress(m: Measurement, label: str | None = None) -> str:
    """The line printed as each measurement ends; `label` replaces the scenario's name."""
    lat = m.result.latencies_ms
    return (
        f"  {label or m.scenario:<10} {m.arch:<12} {m.rps:8.1f} req/s  p50 {lat.get('p50', 0):7.2f} ms  "
        f"p99 {lat.get('p99', 0):7.2f} ms  errors {m.result.errors:<5} "
        f"cpu {m.cpu_per_1000:6.3f} s/1000 req  other load {m.foreign_cores:.2f} cores"
    )


def errors_note(m: Measurement, what: str) -> str | None:
    """A note when more than 1 % of the requests failed (`what` names the measurement)."""
    if m.result.errors <= 0.01 * max(1, m.result.requests):
        return None
    return f"ERRORS: {what}: {m.result.errors} ({m.result.statuses or 'wrk'})"


def announce(notes: list[str], m: Measurement, label: str, what: str) -> None:
    """Print a measurement's progress line; if too many of its requests failed, say so and keep
    the note for the report."""
    print(progress(m, label=label), flush=True)
    problem = errors_note(m, what)
    if problem is not None:
        print(problem, flush=True)
        notes.append(problem)
