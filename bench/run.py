"""One bench run: servers, seed, the three architectures, every scenario against each, teardown.

Everything started here is stopped in `finally` (process groups, by pid), the embedded servers
last; databases made on a server given by URL are dropped. A SIGALRM bounds the whole run.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import msgspec

from actors.contracts.config import Settings, load_settings
from actors.users.signing import SigningKey, load_or_create
from bench import cpu, data, plan, systems, wrk
from bench.loadgen import Result, Run, Spec, probe
from bench.procs import Procs


@dataclass
class Options:
    duration: float = 10.0
    warmup: float = 2.0
    quiet_limit: float = 30.0  # at most this long waiting for left-over work before/after a run
    machine_quiet_limit: float = 60.0  # at most this long waiting for other load on the machine to pass
    connections: int = 32
    login_connections: int = 16
    rate: float = 100.0
    scenarios: tuple[str, ...] = tuple(plan.SCENARIOS)
    loadgen: str = "auto"  # auto (wrk when installed), wrk, python
    shape: data.Shape = field(default_factory=data.Shape)
    quick: bool = False
    profile: str = ""  # the scenario to py-spy afterwards, or none
    rounds: int = 1  # how many times the ratios' scenarios (list, create) are measured
    client: str | None = None  # http-hop's client: aiohttp or httpx
    keep: bool = False
    scale: bool = False  # the `scale` variant: GET list against --scale-loans loans (plan.Variant)
    tracing: bool = False  # the `traced` variant: GET list with tracing on, spans to a file
    scale_shape: data.Shape = field(default_factory=lambda: data.Shape(loans=1_000_000))


@dataclass
class Measurement:
    scenario: str
    arch: str
    tool: str
    connections: int
    result: Result
    cpu: dict[str, float]  # component → CPU seconds, from the start of the load until all is quiet
    loadgen_cpu: float
    in_flight: int  # requests wrk left in flight when it stopped: the servers still did their work
    window: float = 0.0  # seconds from the start of the load until all was quiet
    foreign_cores: float = 0.0  # CPU used meanwhile by processes outside the bench, in cores
    steal_cores: float = 0.0  # CPU the hypervisor took, in cores
    companion: Result | None = None  # the storm's logins, when one ran alongside
    variant: str = ""  # one of plan.VARIANTS, for loan-actors measured alone (Outcome.variants)
    round: int = 1  # 2… for the repeats of --rounds (Outcome.rounds)

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    @property
    def rps(self) -> float:
        return self.result.requests / self.result.elapsed if self.result.elapsed else 0.0

    @property
    def cpu_per_1000(self) -> float:
        done = self.result.requests + self.in_flight
        return self.cpu_total / done * 1000 if self.result.requests else float("nan")


@dataclass
class Outcome:
    options: Options
    measurements: list[Measurement] = field(default_factory=list)
    memory: list[tuple[str, str, int, int]] = field(default_factory=list)  # arch, process, hwm kB, rss kB
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    profile: str = ""
    profiled: str = ""  # the scenario of `profile`
    variants: list[Measurement] = field(default_factory=list)  # plan.VARIANTS, loan-actors alone
    rounds: list[Measurement] = field(default_factory=list)  # --rounds: the ratios' scenarios again
    spans: dict[str, int] = field(default_factory=dict)  # what the `traced` variant wrote


class BenchTimeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise BenchTimeout("the bench ran past its time budget; stopping everything")


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit("bench: stopped by SIGTERM; stopping everything it started")


RATIO_SCENARIOS = ("list", "create")  # the scenarios of the `ratios:` line, repeated by --rounds


def budget(opts: Options) -> int:
    per_run = opts.warmup + opts.duration + opts.machine_quiet_limit + 8
    repeats = (opts.rounds - 1) * sum(n in opts.scenarios for n in RATIO_SCENARIOS)
    runs = (len(opts.scenarios) + repeats) * len(systems.ARCHS) + (3 if opts.profile else 0)
    variants = plan.variants(opts.scale, opts.tracing)
    # a variant also starts and stops its own processes; seeding a million loans takes about 40 s
    extra = len(variants) * 40 + (opts.scale_shape.loans // 5_000 if opts.scale else 0)
    return int((60 if opts.quick else 240) + (runs + len(variants)) * per_run + extra)


def run(opts: Options) -> Outcome:
    outcome = Outcome(opts)
    work = Path(tempfile.mkdtemp(prefix="loans-bench-"))
    (work / "logs").mkdir()
    procs = Procs(work / "logs")
    servers = ExitStack()
    env = load_settings()
    server_url = env.database_url
    dropped: list[str] = []
    run_id = uuid.uuid4().hex[:6]
    previous = signal.signal(signal.SIGALRM, _alarm)
    previous_term = signal.signal(signal.SIGTERM, _terminated)  # so that `finally` still runs
    # a shell starts a background job with SIGINT ignored: `kill -INT` should still stop the bench
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.alarm(budget(opts))
    t_start = time.monotonic()
    try:
        nats_url, nats_pid = _nats(env, work, servers, outcome)
        server_url, postmaster = _postgres(env, work, servers, outcome)
        outcome.timings["servers"] = time.monotonic() - t_start

        variants = plan.variants(opts.scale, opts.tracing)
        own = [f"x-{kind}" for kind in dict.fromkeys(plan.VARIANTS[v].data for v in variants)]
        dbs = {name: f"lbench_{run_id}_{name.replace('-', '_')}" for name in ("seed", *systems.ARCHS, *own)}
        dropped = list(dbs.values())
        base = _overrides(
            outcome,
            nats_url=nats_url,
            data_dir=str(work / "data"),
            jwt_private_key_file=str(work / "jwt" / "ed25519.pem"),
            db_role_prefix=f"lbench_{run_id}_",  # its own roles: dropped with the databases
            db_role_password=env.db_role_password,
            bcrypt_cost=12,
            # a NATS server given by URL may hold other streams: keep ours apart
            events_prefix="events" if env.nats_url is None else f"bench{run_id}",
        )
        t0 = time.monotonic()
        outcome.timings.update(asyncio.run(_seed(server_url, dbs, base, opts.shape)))
        outcome.timings["seed_total"] = time.monotonic() - t0

        key = load_or_create(Path(base.jwt_private_key_file or ""))
        t0 = time.monotonic()
        archs = _start(procs, base, server_url, dbs, nats_pid, opts)
        outcome.timings["start_archs"] = time.monotonic() - t0

        files = plan.build_files(
            plan.Requests(key, opts.shape), work, opts.scenarios, opts.duration, opts.warmup
        )
        outcome.notes += _smoke(archs, files)
        tool = _tool(opts)
        for name in opts.scenarios:
            for arch in archs:
                m = _measure(arch, archs, plan.SCENARIOS[name], files[name], opts, postmaster, tool, work)
                outcome.measurements.append(m)
                print(_progress(m), flush=True)
                if m.result.errors > 0.01 * max(1, m.result.requests):
                    problem = (
                        f"ERRORS: {name} on {arch.name}: {m.result.errors} ({m.result.statuses or 'wrk'})"
                    )
                    print(problem, flush=True)
                    outcome.notes.append(problem)
        for again in range(2, opts.rounds + 1):
            # The ratios' scenarios again, each round starting with another architecture: a
            # machine whose speed drifts over minutes then moves every architecture's figures.
            turn = (again - 1) % len(archs)
            for name in (n for n in RATIO_SCENARIOS if n in opts.scenarios):
                for arch in archs[turn:] + archs[:turn]:
                    m = _measure(arch, archs, plan.SCENARIOS[name], files[name], opts, postmaster, tool, work)
                    m.round = again
                    outcome.rounds.append(m)
                    print(_progress(m), flush=True)
        if opts.profile:
            from bench.profile import profile

            outcome.profile = profile(archs, opts.profile, files[opts.profile], opts, work)
            outcome.profiled = opts.profile
        outcome.notes += asyncio.run(_idempotency_note(server_url, dbs))
        outcome.memory = _memory(archs, postmaster)
        outcome.versions = _versions(server_url)
        if variants:
            for arch in archs:  # their workers would answer in the variants' queue groups
                _stop(procs, arch)
            _variants(outcome, variants, procs, base, server_url, dbs, nats_pid, postmaster, key, work)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
        t0 = time.monotonic()
        procs.stop_all()
        if env.database_url is not None and dropped:
            try:
                roles = [f"lbench_{run_id}_{actor}" for actor in ("users", "loans")]
                asyncio.run(data.drop_databases(env.database_url, dropped, roles))
            except Exception as exc:  # report, never mask the run's own error
                print(f"bench: could not drop {dropped}: {exc}")
        servers.close()
        outcome.timings["teardown"] = time.monotonic() - t0
        outcome.timings["total"] = time.monotonic() - t_start
        if opts.keep:
            print(f"bench: logs and data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return outcome


# Product settings the bench must change, when this version of the product has them.
BENCH_SETTINGS: dict[str, tuple[object, str]] = {
    "requests_per_minute": (
        0,
        "The edge's per-client request limit is off (LOANS_REQUESTS_PER_MINUTE=0): all the bench's "
        "load comes from one address.",
    ),
}


def _overrides(outcome: Outcome, **fields: object) -> Settings:
    for name, (value, note) in BENCH_SETTINGS.items():
        if name in Settings.__struct_fields__:
            fields[name] = value
            outcome.notes.append(note)
    return Settings(**fields)  # type: ignore[arg-type]


async def _idempotency_note(server_url: str, dbs: dict[str, str]) -> list[str]:
    """Whether loan-actors' writes also stored their replies for idempotent retries (the edge may
    add an Idempotency-Key to every write it forwards): work the direct apps do not do."""
    import asyncpg

    con = await asyncpg.connect(data.database_url(server_url, dbs["loan-actors"]))
    try:
        if await con.fetchval("SELECT to_regclass('loans.idempotency')") is None:
            return []
        stored = await con.fetchval("SELECT count(*) FROM loans.idempotency")
    finally:
        await con.close()
    if not stored:
        return []
    return [
        f"loan-actors stored {stored:,} idempotency rows: its edge gives every write an Idempotency-Key "
        "(so a retry never writes twice), and the loans actor keeps each write's reply. The bench's "
        "clients send no key; direct and http-hop store nothing of the kind."
    ]


def _nats(env: Settings, work: Path, servers: ExitStack, outcome: Outcome) -> tuple[str, int | None]:
    if env.nats_url:
        outcome.notes.append("NATS given by LOANS_NATS_URL: nats-server CPU is not counted.")
        return env.nats_url, None
    from ops.embedded import EmbeddedNats

    nats = EmbeddedNats(work)
    url = nats.start()
    servers.callback(nats.stop)
    return url, nats.pid


def _postgres(env: Settings, work: Path, servers: ExitStack, outcome: Outcome) -> tuple[str, int | None]:
    if env.database_url:
        pm = asyncio.run(data.postmaster_pid(env.database_url))
        if pm is None:
            outcome.notes.append("Postgres given by URL is not on this machine: its CPU is not counted.")
        return env.database_url, pm
    from ops.embedded import DEV_SETTINGS, EmbeddedPostgres

    pg = EmbeddedPostgres(work, settings=DEV_SETTINGS)  # what `loans up` runs: fsync on
    url = pg.start()
    servers.callback(pg.stop)
    return url, pg.pid


async def _seed(server_url: str, dbs: dict[str, str], base: Settings, shape: data.Shape) -> dict[str, float]:
    await data.create_database(server_url, dbs["seed"])
    seed_settings = msgspec.structs.replace(base, database_url=data.database_url(server_url, dbs["seed"]))
    took = await data.seed(seed_settings, shape)
    t0 = time.monotonic()
    for arch in systems.ARCHS:
        await data.create_database(server_url, dbs[arch], template=dbs["seed"])
    took["copy_databases"] = time.monotonic() - t0
    return took


def _start(
    procs: Procs, base: Settings, server_url: str, dbs: dict[str, str], nats_pid: int | None, opts: Options
) -> list[systems.Arch]:
    def with_db(arch: str) -> Settings:
        return msgspec.structs.replace(base, database_url=data.database_url(server_url, dbs[arch]))

    archs = [
        systems.start_loan_actors(procs, with_db("loan-actors"), dbs["loan-actors"], nats_pid),
        systems.start_direct(procs, with_db("direct"), dbs["direct"]),
        systems.start_http_hop(procs, with_db("http-hop"), dbs["http-hop"], opts.client),
    ]
    for arch in archs:
        systems.wait_ready(arch)
    return archs


def _stop(procs: Procs, arch: systems.Arch) -> None:
    for proc in reversed(list(arch.procs.values())):  # the edge before the workers it calls
        procs.stop(proc)


def _variants(
    outcome: Outcome,
    names: list[str],
    procs: Procs,
    base: Settings,
    server_url: str,
    dbs: dict[str, str],
    nats_pid: int | None,
    postmaster: int | None,
    key: SigningKey,
    work: Path,
) -> None:
    """loan-actors alone under the `list` load, once per variant (plan.Variant), each in fresh
    processes (stopped after it) on a database seeded for the variants with `data.seed(bulk=True)`.
    The main table's architectures are stopped by now. Each variant has an events stream of its own."""
    opts = outcome.options
    shapes = {"base": opts.shape, "scale": opts.scale_shape}
    for kind in dict.fromkeys(plan.VARIANTS[name].data for name in names):
        shape = shapes[kind]
        print(f"variants: seeding {shape.loans:,} loans over {shape.customers:,} customers", flush=True)
        t0 = time.monotonic()
        took = asyncio.run(_seed_bulk(server_url, dbs[f"x-{kind}"], base, shape))
        outcome.timings[f"seed_{kind}"] = time.monotonic() - t0
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()), flush=True)
    outcome.notes += asyncio.run(_checkpoint(server_url))
    folder = work / "variants"
    folder.mkdir()
    files = plan.build_files(plan.Requests(key, opts.shape), folder, ["list"], opts.duration, opts.warmup)
    tool = _tool(opts)
    for name in names:
        variant = plan.VARIANTS[name]
        database = dbs[f"x-{variant.data}"]
        settings = msgspec.structs.replace(
            base,
            database_url=data.database_url(server_url, database),
            events_prefix=f"{base.events_prefix}_{name}",
        )
        otel = {"OTEL_TRACES_EXPORTER": "console" if variant.tracing else "none"}
        suffix = ".spans" if variant.tracing else None
        t0 = time.monotonic()
        arch = systems.start_loan_actors(
            procs, settings, database, nats_pid, tag=f"x-{name}", env=otel, stdout_suffix=suffix
        )
        try:
            systems.wait_ready(arch)
            outcome.timings[f"start_{name}"] = time.monotonic() - t0
            outcome.notes += [f"variant {name}: {p}" for p in _smoke([arch], files)]
            m = _measure(arch, [arch], plan.SCENARIOS["list"], files["list"], opts, postmaster, tool, work)
        finally:
            _stop(procs, arch)  # also flushes the spans still buffered
        m.variant = name
        outcome.variants.append(m)
        print(_progress(m).replace(f"  {m.scenario:<10}", f"  {name:<10}", 1), flush=True)
        if m.result.errors > 0.01 * max(1, m.result.requests):
            problem = f"ERRORS: variant {name}: {m.result.errors} ({m.result.statuses or 'wrk'})"
            print(problem, flush=True)
            outcome.notes.append(problem)
        if variant.tracing:
            outcome.spans = _spans(arch)


async def _seed_bulk(server_url: str, database: str, base: Settings, shape: data.Shape) -> dict[str, float]:
    await data.create_database(server_url, database)
    settings = msgspec.structs.replace(base, database_url=data.database_url(server_url, database))
    return await data.seed(settings, shape, bulk=True)


async def _checkpoint(server_url: str) -> list[str]:
    """Write the fresh rows out now, not while a variant is measured (the checkpointer's CPU is
    counted for whichever architecture is under load)."""
    import asyncpg

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


def _tool(opts: Options) -> str:
    if opts.loadgen == "wrk" and not wrk.available():
        raise SystemExit("bench: --loadgen wrk, but wrk is not installed (apt-get install wrk)")
    if opts.loadgen == "auto":
        return "wrk" if wrk.available() else "python"
    return opts.loadgen


def _loadgen(spec: Spec, work: Path, name: str = "loadgen") -> subprocess.Popen[str]:
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


def run_python(spec: Spec, work: Path) -> Result:
    return _result(_loadgen(spec, work), spec.duration + spec.timeout + 30)


def _start_storm(arch: systems.Arch, files: plan.Files, opts: Options, work: Path) -> subprocess.Popen[str]:
    assert files.companion is not None
    spec = Spec(arch.port, str(files.companion), connections=opts.login_connections)
    spec.duration = opts.duration
    return _loadgen(spec, work, "storm")


def _finish_storm(proc: subprocess.Popen[str]) -> Result:
    return _result(proc, 120)


def _smoke(archs: list[systems.Arch], files: dict[str, plan.Files]) -> list[str]:
    """One request of each scenario to each architecture, before measuring: a 4xx/5xx here means
    the bench and the product disagree (a changed statement, say), and the figures would lie."""
    problems = []
    for name, f in files.items():
        first = f.warmup.read_bytes().split(b"\n", 1)[0].replace(b"\t", b"\r\n")
        for arch in archs:
            try:
                status, body = asyncio.run(probe(arch.port, first))
            except (OSError, TimeoutError) as exc:
                status, body = 0, str(exc).encode()
            if not 200 <= status < 300:
                problem = f"SMOKE CHECK FAILED: {name} on {arch.name} answered {status}: {body[:300]!r}"
                print(problem, flush=True)
                problems.append(problem)
    return problems


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(
    arch: systems.Arch,
    archs: list[systems.Arch],
    scenario: plan.Scenario,
    files: plan.Files,
    opts: Options,
    postmaster: int | None,
    tool: str,
    work: Path,
) -> Measurement:
    conns = opts.login_connections if scenario.login else opts.connections
    if opts.warmup > 0:  # in this process: a warm-up needs no clean CPU figure, and it saves a start
        warm = Spec(arch.port, str(files.warmup), connections=min(conns, 2) if scenario.login else conns)
        warm.duration, warm.reuse = opts.warmup, files.reuse
        asyncio.run(Run(warm).go())
    everything = [a.scope(postmaster) for a in archs]
    if opts.machine_quiet_limit > 0:  # a shared machine: let another test suite's burst pass first
        cpu.wait_machine_quiet(everything, opts.machine_quiet_limit)
    cpu.wait_quiet(everything, opts.quiet_limit)  # nothing left over from the warm-up or another arch
    scope = arch.scope(postmaster)
    names = scope.pids()
    ours = {pid: "" for s in everything for pid in s.pids()}
    before, ours_before = cpu.snapshot(names), cpu.snapshot(ours)
    machine_before, self_before, t0 = cpu.machine_busy(), _self_cpu(), time.monotonic()
    gen_before = _children_cpu()
    storm = _start_storm(arch, files, opts, work) if scenario.storm else None
    if scenario.mode == "open" or tool == "python":
        spec = Spec(arch.port, str(files.measured), mode=scenario.mode, connections=conns)
        spec.duration, spec.rate, spec.reuse = opts.duration, opts.rate, files.reuse
        result, used = run_python(spec, work), "python"
    else:
        result = wrk.run(
            arch.port,
            files.measured,
            connections=conns,
            duration=opts.duration,
            reuse=files.reuse,
            work_dir=work,
        )
        used = "wrk"
    companion = _finish_storm(storm) if storm is not None else None
    gen_cpu = _children_cpu() - gen_before
    cpu.wait_quiet(everything, opts.quiet_limit)  # the outbox relay, consumers, requests in flight
    names = {**names, **scope.pids()}
    ours.update({pid: "" for s in everything for pid in s.pids()})
    after, ours_after = cpu.snapshot(names), cpu.snapshot(ours)
    machine_after, window = cpu.machine_busy(), time.monotonic() - t0
    bench_cpu = sum(cpu.cpu_by_component(ours_before, ours_after, ours).values())
    bench_cpu += gen_cpu + _self_cpu() - self_before
    foreign = machine_after[0] - machine_before[0] - bench_cpu
    return Measurement(
        scenario=scenario.name,
        arch=arch.name,
        tool=used if scenario.mode == "closed" else f"{used} open {opts.rate:g}/s",
        connections=conns,
        result=result,
        cpu=cpu.cpu_by_component(before, after, names),
        loadgen_cpu=gen_cpu,
        in_flight=conns if used == "wrk" and not result.exhausted else 0,
        window=window,
        foreign_cores=max(0.0, foreign / window),
        steal_cores=(machine_after[1] - machine_before[1]) / window,
        companion=companion,
    )


def _progress(m: Measurement) -> str:
    lat = m.result.latencies_ms
    return (
        f"  {m.scenario:<10} {m.arch:<12} {m.rps:8.1f} req/s  p50 {lat.get('p50', 0):7.2f} ms  "
        f"p99 {lat.get('p99', 0):7.2f} ms  errors {m.result.errors:<5} "
        f"cpu {m.cpu_per_1000:6.3f} s/1000 req  other load {m.foreign_cores:.2f} cores"
    )


def _memory(archs: list[systems.Arch], postmaster: int | None) -> list[tuple[str, str, int, int]]:
    rows = []
    for arch in archs:
        for name, pid in arch.components().items():
            hwm, rss = cpu.memory_kb(pid)
            rows.append((arch.name, name, hwm, rss))
        if postmaster is not None:
            backends = [
                child
                for child in cpu.children_map().get(postmaster, ())
                if cpu.backend_database(child) == arch.database
            ]
            if backends:
                worst = max(backends, key=lambda pid: cpu.memory_kb(pid)[0])
                hwm, rss = cpu.memory_kb(worst)
                rows.append((arch.name, f"postgres backend (largest of {len(backends)})", hwm, rss))
    if postmaster is not None:
        hwm, rss = cpu.memory_kb(postmaster)
        rows.append(("shared", "postgres postmaster", hwm, rss))
    return rows


def _versions(server_url: str) -> dict[str, str]:
    import platform

    import asyncpg

    out = {"python": platform.python_version(), "kernel": platform.release(), "cores": str(os.cpu_count())}
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        out["cpu"] = model
    except (OSError, StopIteration):
        pass

    async def pg_version() -> str:
        con = await asyncpg.connect(server_url)
        try:
            return str(await con.fetchval("SHOW server_version"))
        finally:
            await con.close()

    out["postgres"] = asyncio.run(pg_version())
    out["wrk"] = "installed" if wrk.available() else "absent (Python generator used)"
    return out
