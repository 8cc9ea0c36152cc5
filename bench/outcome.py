"""What a run is asked to do (Options), and what it found (Measurement, Outcome): the report reads these."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import data, plan
from bench.loadgen import Result

RATIO_SCENARIOS = ("list", "create")  # the scenarios of the `ratios:` line, repeated by --rounds


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
    scale_out: bool = False  # 1, 2, 4 loans workers and 1, 2 edges under GET list (bench/scale_out.py)
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
    loans_workers: int = 1  # the scale-out mode's shape (Outcome.scale_out)
    edges: int = 1

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
    scale_out: list[Measurement] = field(default_factory=list)  # bench/scale_out.py
    repay_open: list[Measurement] = field(default_factory=list)  # plan.REPAY_OPEN, with `base`
    spans: dict[str, dict[str, int]] = field(default_factory=dict)  # what each traced variant wrote
