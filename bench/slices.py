"""Deployments measured in slices: running at once, loaded in turn.

This machine's speed drifts by tens of percent within minutes (two `base` runs of one bench run
have differed by 39 %), more than the tracing cost being measured. Measured one after the other,
two deployments meet different machines. So they run at once (a variant and its `base`; the main
table's architectures), and the load goes to each in turn, in a palindrome of slices: a drift
linear in time moves each alike, and what is left of a faster spell is shared out between them.
"""

from __future__ import annotations

from bench.loadgen import Result
from bench.outcome import Measurement


def palindrome(n: int) -> tuple[int, ...]:
    """The order of the slices of `n` deployments, by index: each in turn, then back again, so
    each has two slices and all have the same mean time (0 1 2 2 1 0)."""
    return (*range(n), *reversed(range(n)))


SLICES_EACH = 2
# A variant's pair: 0 is base, 1 the variant.
ORDER = palindrome(2)


def merged(slices: list[Measurement]) -> Measurement:
    """One measurement of the slices of one deployment: requests, time and CPU summed; the latency
    percentiles are the slices' own, weighted by their requests (wrk gives percentiles only, so
    those of the whole cannot be had exactly)."""
    first = slices[0]
    if len(slices) == 1:
        return first
    results = [m.result for m in slices]
    requests = sum(r.requests for r in results)
    window = sum(m.window for m in slices)
    cpu: dict[str, float] = {}
    for m in slices:
        for component, seconds in m.cpu.items():
            cpu[component] = cpu.get(component, 0.0) + seconds
    return Measurement(
        scenario=first.scenario,
        arch=first.arch,
        tool=first.tool,
        connections=first.connections,
        result=_merged_results(results, requests),
        cpu=cpu,
        loadgen_cpu=sum(m.loadgen_cpu for m in slices),
        in_flight=sum(m.in_flight for m in slices),
        window=window,
        foreign_cores=_weighted([(m.foreign_cores, m.window) for m in slices]),
        steal_cores=_weighted([(m.steal_cores, m.window) for m in slices]),
        variant=first.variant,
        round=first.round,
    )


def _merged_results(results: list[Result], requests: int) -> Result:
    statuses: dict[str, int] = {}
    for r in results:
        for status, n in r.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    shared = set.intersection(*(set(r.latencies_ms) for r in results))
    latencies = {
        key: _weighted([(r.latencies_ms[key], r.requests) for r in results])
        for key in sorted(shared, key=list(results[0].latencies_ms).index)
    }
    return Result(
        requests=requests,
        errors=sum(r.errors for r in results),
        statuses=statuses,
        elapsed=sum(r.elapsed for r in results),
        latencies_ms=latencies,
        exhausted=any(r.exhausted for r in results),
        late_sends=sum(r.late_sends for r in results),
        cpu_seconds=sum(r.cpu_seconds for r in results),
    )


def _weighted(values: list[tuple[float, float]]) -> float:
    total = sum(weight for _, weight in values)
    if not total:
        return sum(value for value, _ in values) / len(values)
    return sum(value * weight for value, weight in values) / total
