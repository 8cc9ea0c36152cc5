"""loan-actors measured alone (the variants and the scale-out shapes): what each such run shares.

The main table's processes are stopped by then; every run here starts loan-actors afresh, with an
events stream of its own, on one of the databases seeded for the variants, and stops it after.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from actors.contracts.config import Settings
from bench import plan, systems
from bench.measure import measure
from bench.outcome import Measurement, Outcome
from bench.procs import Procs
from bench.stage import Servers, stop_arch, with_database

Nats = tuple[str, int | None]  # a NATS server's URL, and its pid when its CPU is counted


@dataclass(frozen=True)
class Alone:
    outcome: Outcome
    procs: Procs
    base: Settings
    servers: Servers
    files: dict[str, plan.Files]  # the variants' request files, by scenario
    tool: str  # the closed-loop generator (load.choose_tool)
    work: Path

    @contextmanager
    def running(
        self, tag: str, database: str, nats: Nats | None = None, **start: Any
    ) -> Iterator[systems.Arch]:
        """loan-actors on `database`, its logs and events stream named by `tag`, ready for the
        block and stopped after it; on the run's NATS server unless `nats` names another (a
        deployment running beside another needs its own: both would answer in the same queue
        groups); `start` goes to systems.start_loan_actors (env, workers, …)."""
        nats_url, nats_pid = nats or (self.servers.nats_url, self.servers.nats_pid)
        settings = msgspec.structs.replace(
            with_database(self.base, self.servers.database_url, database),
            events_prefix=f"{self.base.events_prefix}_{tag.replace('-', '_').replace('.', '')}",
            nats_url=nats_url,
        )
        t0 = time.monotonic()
        arch = systems.start_loan_actors(self.procs, settings, database, nats_pid, tag=tag, **start)
        try:
            systems.wait_ready(arch)
            self.outcome.timings[f"start_{tag}"] = time.monotonic() - t0
            yield arch
        finally:
            stop_arch(self.procs, arch)  # also flushes the spans still buffered

    def measure(
        self,
        arch: systems.Arch,
        scenario: plan.Scenario,
        *,
        duration: float | None = None,
        beside: tuple[systems.Arch, ...] = (),
    ) -> Measurement:
        """`scenario`'s load on `arch`, with the run's options (or for `duration` seconds); the
        processes of `beside`, running idle meanwhile, are the bench's own, not foreign load."""
        o = self.outcome
        opts = o.options if duration is None else dataclasses.replace(o.options, duration=duration)
        files = self.files[scenario.name]
        return measure(
            arch, [arch, *beside], scenario, files, opts, self.servers.postmaster, self.tool, self.work
        )
