"""The smoke check: one request of each scenario to each architecture, before anything is measured."""

from __future__ import annotations

import asyncio

from bench import plan, systems
from bench.loadgen import probe


def smoke(archs: list[systems.Arch], files: dict[str, plan.Files]) -> list[str]:
    """The problems found: a 4xx/5xx here means the bench and the product disagree (a changed
    statement, say), and the figures would lie."""
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
