"""`--profile [list|create]`: py-spy on one scenario's path, and a summary of where the time goes.

After the measured runs, the scenario's load runs again against loan-actors (py-spy on the edge and
the loans worker at once, and the users worker for create: it applies the loan events) and against
the direct app, each for the run's duration (≥ 5 s). Only scenarios that can be repeated: a
decision's loans are used up by its measured run.
py-spy samples without pausing the target (`--nonblocking`) and only running threads (no idle).
The collapsed stacks go to bench/results/profiles/ (not committed); the summary to the report.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench import plan, systems, wrk
from bench.load import run_python
from bench.loadgen import Result, Spec
from bench.outcome import Options

PROFILES = Path(__file__).resolve().parent / "results" / "profiles"
RATE = 200  # samples per second
PROFILED = ("list", "create")

# py-spy names files relative to their sys.path entry: "jwt/api_jws.py", "asyncio/base_events.py"
CATEGORIES = (
    ("JWT (PyJWT + cryptography)", ("jwt/", "cryptography/")),
    ("NATS client (nats-py)", ("nats/",)),
    ("asyncpg", ("asyncpg/",)),
    ("msgspec", ("msgspec/",)),
    ("Litestar", ("litestar/",)),
    ("uvicorn / httptools", ("uvicorn/", "httptools/")),
    ("event loop (uvloop's C: I/O, syscalls)", ("asyncio/runners.py",)),
    ("asyncio (Python)", ("asyncio/",)),
    ("loan-actors code", ("actors/", "edge/", "otel/")),
    ("bench code", ("bench/",)),
    ("uuid / datetime / decimal / base64", ("uuid.py", "datetime.py", "_pydecimal.py", "base64.py")),
    ("logging / opentelemetry", ("logging/", "opentelemetry/")),
)
_FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>[^():]*)(?::\d+)?\)$")


def _py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def _category(file: str) -> str:
    for name, needles in CATEGORIES:
        if file.startswith(needles):
            return name
    return "other: " + Path(file).name if file else "other"


def summarize(path: Path, top: int = 12) -> str:
    """Self time by library, and the functions with the most inclusive time, from collapsed stacks."""
    by_cat: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_fn: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = []
        for raw in stack.split(";"):
            m = _FRAME.match(raw)
            if m:
                file = m.group("file")
                short = "/".join(file.split("/site-packages/")[-1].split("/")[-3:])
                frames.append((f"{m.group('fn')} ({short})", file))
        if not frames:
            continue
        by_cat[_category(frames[-1][1])] += n
        self_fn[frames[-1][0]] += n
        for name in {f for f, _ in frames}:
            inclusive[name] += n
    if not total:
        return "(no samples)\n"

    def pct(n: int) -> str:
        return f"{100 * n / total:.1f} %"

    out = [f"{total} samples of running Python code.\n", "Self time by library (leaf frame):\n"]
    out += [f"- {name}: {pct(n)}" for name, n in by_cat.most_common()]
    out += ["\nFunctions with the most self time:\n"]
    out += [f"- {pct(n)} {name}" for name, n in self_fn.most_common(top)]
    skip = ("<module>", "run (", "run_forever", "_run_once", "_run (asyncio/events.py", "run_until_complete")
    interesting = [(name, n) for name, n in inclusive.most_common() if not name.startswith(skip)]
    out += ["\nInclusive time (the function and what it calls):\n"]
    out += [f"- {pct(n)} {name}" for name, n in interesting[: top * 2]]
    return "\n".join(out) + "\n"


def _record(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    spy = _py_spy()
    assert spy is not None
    argv = [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(RATE)]
    argv += ["--nonblocking", "--format", "raw", "-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile(archs: list[systems.Arch], scenario: str, files: plan.Files, opts: Options, work: Path) -> str:
    """The report's profile section: one summary per process py-spied, each under the scenario's load."""
    if _py_spy() is None:
        return "py-spy is not installed (`pip install py-spy`): no profile.\n"
    PROFILES.mkdir(parents=True, exist_ok=True)
    seconds = max(5, round(opts.duration))
    workers = ("edge", "loans-worker", "users-worker") if scenario == "create" else ("edge", "loans-worker")
    targets = {
        "loan-actors": workers,
        "direct": ("app",),
    }
    sections = []
    for arch in archs:
        if arch.name in targets:
            sections += _profile_arch(arch, targets[arch.name], scenario, files, opts, seconds, work)
    return "\n".join(sections)


def _profile_arch(
    arch: systems.Arch,
    roles: tuple[str, ...],
    scenario: str,
    files: plan.Files,
    opts: Options,
    seconds: int,
    work: Path,
) -> list[str]:
    """py-spy on each of `roles` at once while the load runs; a section per role."""
    spies = []
    for role in roles:
        out = PROFILES / f"{arch.name}-{role}.collapsed"
        spies.append((role, out, _record(arch.procs[role].pid, seconds + 1, out)))
    result = _load(arch.port, files, opts.connections, seconds, work)
    rps = result.requests / result.elapsed if result.elapsed else 0
    sections = []
    for role, out, spy in spies:
        try:
            spy.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
        body = summarize(out) if out.exists() else "(py-spy wrote nothing)\n"
        sections.append(f"### {arch.name}: {role} ({scenario}, {rps:.0f} req/s under py-spy)\n\n{body}")
    return sections


def _load(port: int, files: plan.Files, connections: int, seconds: int, work: Path) -> Result:
    if wrk.available():
        return wrk.run(
            port, files.measured, connections=connections, duration=seconds, reuse=True, work_dir=work
        )
    spec = Spec(port, str(files.measured), connections=connections)
    spec.duration = seconds
    return run_python(spec, work)
