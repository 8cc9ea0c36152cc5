"""The load of one measurement: wrk, or the Python generator in a child process of its own.

The generator runs in a child so that its CPU is told apart from the bench's (RUSAGE_CHILDREN);
the login storm that some scenarios run beside their load is one more such child.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from dataclasses import asdict
from pathlib import Path

from actors.contracts.config import Settings
from bench import plan, systems, wrk
from bench.loadgen import Result, Run, Spec
from bench.outcome import Options


def choose_tool(opts: Options) -> str:
    """The closed-loop generator: wrk when asked or installed, else the Python one."""
    if opts.loadgen == "wrk" and not wrk.available():
        raise SystemExit("bench: --loadgen wrk, but wrk is not installed (apt-get install wrk)")
    if opts.loadgen == "auto":
        return "wrk" if wrk.available() else "python"
    return opts.loadgen


def connections(scenario: plan.Scenario, opts: Options) -> int:
    return opts.login_connections if scenario.login else opts.connections


def warm_up(port: int, scenario: plan.Scenario, files: plan.Files, opts: Options) -> None:
    """The warm-up, in this process: it needs no clean CPU figure, and it saves a start."""
    if opts.warmup <= 0:
        return
    conns = connections(scenario, opts)
    warm = Spec(port, str(files.warmup), connections=min(conns, 2) if scenario.login else conns)
    warm.duration, warm.reuse = opts.warmup, files.reuse
    asyncio.run(Run(warm).go())


def apply(
    port: int, scenario: plan.Scenario, files: plan.Files, opts: Options, tool: str, work: Path
) -> tuple[Result, str]:
    """The measured load, and the generator that made it ("wrk" or "python")."""
    conns = connections(scenario, opts)
    if scenario.mode == "open" or tool == "python":
        spec = Spec(port, str(files.measured), mode=scenario.mode, connections=conns)
        spec.duration, spec.rate, spec.reuse = opts.duration, opts.rate, files.reuse
        return run_python(spec, work), "python"
    result = wrk.run(
        port,
        files.measured,
        connections=conns,
        duration=opts.duration,
        reuse=files.reuse,
        work_dir=work,
    )
    return result, "wrk"


def run_python(spec: Spec, work: Path) -> Result:
    """The Python generator in a child process, until it has run `spec` and printed its result."""
    return _result(_spawn(spec, work), spec.duration + spec.timeout + 30)


def start_storm(port: int, files: plan.Files, opts: Options, work: Path) -> subprocess.Popen[str]:
    """The logins that run beside a storm scenario's load, for as long as it."""
    assert files.companion is not None
    spec = Spec(port, str(files.companion), connections=opts.login_connections)
    spec.duration = opts.duration
    return _spawn(spec, work, "storm")


def finish_storm(proc: subprocess.Popen[str]) -> Result:
    return _result(proc, 120)


def _spawn(spec: Spec, work: Path, name: str = "loadgen") -> subprocess.Popen[str]:
    path = work / f"{name}-spec.json"
    path.write_text(json.dumps(asdict(spec)))
    argv = [systems.PY, "-m", "bench.loadgen", str(path)]
    env = systems.child_env(Settings())
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _result(proc: subprocess.Popen[str], timeout: float) -> Result:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed ({proc.returncode}):\n{err[-3000:]}")
    return Result(**json.loads(out.strip().splitlines()[-1]))
