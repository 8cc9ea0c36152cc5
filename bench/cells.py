"""How the report writes a figure, and finds one: shared by its sections."""

from __future__ import annotations

import math

from bench.outcome import Measurement, Outcome


def figure(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def per_process(m: Measurement) -> str:
    if not m.result.requests:
        return ""
    done = m.result.requests + m.in_flight
    parts = sorted(m.cpu.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {sec / done * 1000:.2f}" for name, sec in parts if sec > 0)


def find(outcome: Outcome, scenario: str, arch: str) -> Measurement | None:
    return next((m for m in outcome.measurements if m.scenario == scenario and m.arch == arch), None)


def ratio_of(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return "n/a"
    return f"{a / b:.2f}"
