"""deploy/prometheus/ as promtool sees it: the rules load, and their unit tests (series that make
each alert fire, and series that must not) pass."""

from __future__ import annotations

import subprocess

import yaml

from tests.support.prometheus import PROMETHEUS_DIR, RULES, require_tool

# The seed's three alerts and the ones design.md §14 adds: each must be there, with its runbook.
REQUIRED_ALERTS = {
    "LoansServiceDown",
    "LoansEdgeLatencyHigh",
    "LoansSubjectLatencyHigh",
    "LoansEdgeErrorRateHigh",
    "LoansSubjectErrorRateHigh",
    "LoansOutboxLag",
    "LoansConsumerLag",
    "LoansDeadLetters",
    "LoansCircuitOpen",
    "LoansNatsDisconnected",
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = require_tool("promtool")
    return subprocess.run([promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60)


def test_the_rules_and_the_scrape_config_are_valid() -> None:
    """`promtool check rules` and `promtool check config` accept deploy/prometheus/."""
    rules = _promtool("check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = _promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_alert_fires_on_its_series_and_not_on_the_others() -> None:
    """`promtool test rules` passes every unit test in deploy/prometheus/tests/."""
    tests = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in (PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert tests, "no promtool unit tests"
    run = _promtool("test", "rules", *tests)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_required_alert_has_a_summary_and_a_runbook_and_a_unit_test() -> None:
    """Each alert the design asks for exists, says what fired and what to do, and is unit-tested."""
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]
    names = {rule["alert"] for rule in rules}
    assert REQUIRED_ALERTS <= names, REQUIRED_ALERTS - names
    for rule in rules:
        assert rule["annotations"].get("summary") and rule["annotations"].get("runbook"), rule["alert"]
    tested = {
        case["alertname"]
        for path in (PROMETHEUS_DIR / "tests").glob("*.yml")
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert names <= tested, f"alerts never seen firing in a unit test: {names - tested}"
