"""Only a full bench run is the day's report: a smoke run or a run of some scenarios has a name of
its own, so it cannot overwrite the figures the README quotes (one did, on 2026-12-03)."""

from __future__ import annotations

from bench import plan
from bench.outcome import Options
from bench.report import _kind_of_run


def test_a_run_of_every_scenario_is_the_full_one() -> None:
    assert _kind_of_run(Options()) == "full"
    assert _kind_of_run(Options(scenarios=tuple(reversed(plan.SCENARIOS)))) == "full"


def test_a_smoke_run_and_a_run_of_some_scenarios_are_named_apart() -> None:
    assert _kind_of_run(Options(quick=True)) == "quick"
    assert _kind_of_run(Options(scenarios=("list",))) == "partial"
    assert _kind_of_run(Options(scenarios=("list", "create"), quick=True)) == "quick"
