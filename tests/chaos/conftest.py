"""Chaos tests: real processes, real faults. Slow, so the default run skips them.

`LOANS_CHAOS=1 pytest tests/chaos` runs them (.ci/run does); each prints its figures, and the
run's summary repeats them under "chaos figures".
"""

from __future__ import annotations

import os

import pytest

from tests.support.harness import REPORT


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("LOANS_CHAOS") == "1":
        return
    skip = pytest.mark.skip(reason="chaos test: set LOANS_CHAOS=1 to run it")
    for item in items:
        if "chaos" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("chaos figures")
        for line in REPORT:
            terminalreporter.write_line(line)
