"""Only a full bench run is the day's report: a smoke run or a run of some scenarios has a name of
its own, and so has a second full run of the day, so none can overwrite the figures the README
quotes (a partial run did, on 2026-12-03, and then a second full one)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench import plan
from bench.outcome import Options
from bench.report import _kind_of_run, report_stem

AFTERNOON = datetime(2026, 12, 3, 11, 24, tzinfo=UTC)


def test_a_run_of_every_scenario_is_the_full_one() -> None:
    assert _kind_of_run(Options()) == "full"
    assert _kind_of_run(Options(scenarios=tuple(reversed(plan.SCENARIOS)))) == "full"


def test_a_smoke_run_and_a_run_of_some_scenarios_are_named_apart() -> None:
    assert _kind_of_run(Options(quick=True)) == "quick"
    assert _kind_of_run(Options(scenarios=("list",))) == "partial"
    assert _kind_of_run(Options(scenarios=("list", "create"), quick=True)) == "quick"


def test_a_second_full_run_of_the_day_is_named_by_its_time(tmp_path: Path) -> None:
    assert report_stem(Options(), AFTERNOON, tmp_path) == "2026-12-03"
    (tmp_path / "2026-12-03.md").write_text("the morning's report")
    assert report_stem(Options(), AFTERNOON, tmp_path) == "2026-12-03-1124"
    assert report_stem(Options(scenarios=("list",)), AFTERNOON, tmp_path) == "2026-12-03-partial"
    assert report_stem(Options(quick=True), AFTERNOON, tmp_path) == "2026-12-03-quick"
