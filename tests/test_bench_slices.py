"""Deployments running at once are measured in slices, loaded in turn (bench/slices.py): a variant
and its `base`, the main table's architectures. The order gives each the same mean time, and the
merge of a deployment's slices is what one measurement of them all would have counted."""

from __future__ import annotations

import pytest

from bench import slices
from bench.loadgen import Result
from bench.outcome import Measurement


def _slice(requests: int, elapsed: float, p99: float, cpu: dict[str, float], window: float) -> Measurement:
    return Measurement(
        scenario="list",
        arch="loan-actors",
        tool="wrk",
        connections=32,
        result=Result(
            requests=requests,
            errors=1,
            statuses={"200": requests - 1, "503": 1},
            elapsed=elapsed,
            latencies_ms={"p50": p99 / 2, "p99": p99},
        ),
        cpu=cpu,
        loadgen_cpu=0.5,
        in_flight=32,
        window=window,
        steal_cores=0.1 * window,
        variant="traced",
    )


def test_each_side_has_the_same_mean_time_in_the_order() -> None:
    def mean_time(side: int) -> float:
        at = [i for i, who in enumerate(slices.ORDER) if who == side]
        return sum(at) / len(at)

    assert sorted(set(slices.ORDER)) == [0, 1]
    assert slices.ORDER.count(0) == slices.ORDER.count(1) == slices.SLICES_EACH
    assert mean_time(0) == mean_time(1)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_a_palindrome_gives_every_deployment_two_slices_at_the_same_mean_time(n: int) -> None:
    order = slices.palindrome(n)
    at = {i: [t for t, who in enumerate(order) if who == i] for i in range(n)}
    assert sorted(at) == list(range(n))
    assert all(len(times) == slices.SLICES_EACH for times in at.values())
    assert len({sum(times) for times in at.values()}) == 1
    assert slices.palindrome(3) == (0, 1, 2, 2, 1, 0)


def test_the_merge_sums_requests_time_and_cpu() -> None:
    a = _slice(3000, 6.0, 30.0, {"edge": 1.0, "loans-worker": 2.0}, window=7.0)
    b = _slice(1000, 6.0, 50.0, {"edge": 0.5, "postgres": 0.25}, window=7.0)
    m = slices.merged([a, b])
    assert m.result.requests == 4000
    assert m.result.elapsed == 12.0
    assert m.rps == pytest.approx(4000 / 12.0)
    assert m.cpu == {"edge": 1.5, "loans-worker": 2.0, "postgres": 0.25}
    assert m.in_flight == 64
    assert m.cpu_per_1000 == pytest.approx(3.75 / 4064 * 1000)
    assert m.result.errors == 2
    assert m.result.statuses == {"200": 3998, "503": 2}
    assert m.loadgen_cpu == 1.0
    assert m.window == 14.0
    assert m.steal_cores == pytest.approx(0.7)
    assert m.variant == "traced"


def test_the_merged_percentiles_are_weighted_by_requests() -> None:
    a = _slice(3000, 6.0, 30.0, {}, window=7.0)
    b = _slice(1000, 6.0, 50.0, {}, window=7.0)
    m = slices.merged([a, b])
    assert m.result.latencies_ms == {"p50": pytest.approx(17.5), "p99": pytest.approx(35.0)}
    assert list(m.result.latencies_ms) == ["p50", "p99"]


def test_one_slice_is_itself() -> None:
    a = _slice(3000, 6.0, 30.0, {"edge": 1.0}, window=7.0)
    assert slices.merged([a]) is a
