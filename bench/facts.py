"""What the report says beside the measurements: memory, versions, and work only loan-actors does."""

from __future__ import annotations

import asyncio
import os
import platform
from pathlib import Path

import asyncpg

from bench import cpu, data, systems, wrk


async def idempotency_note(server_url: str, dbs: dict[str, str]) -> list[str]:
    """Whether loan-actors' writes also stored their replies for idempotent retries (the edge may
    add an Idempotency-Key to every write it forwards): work the direct apps do not do."""
    import asyncpg

    con = await asyncpg.connect(data.database_url(server_url, dbs["loan-actors"]))
    try:
        if await con.fetchval("SELECT to_regclass('loans.idempotency')") is None:
            return []
        stored = await con.fetchval("SELECT count(*) FROM loans.idempotency")
    finally:
        await con.close()
    if not stored:
        return []
    return [
        f"loan-actors stored {stored:,} idempotency rows: its edge gives every write an Idempotency-Key "
        "(so a retry never writes twice), and the loans actor keeps each write's reply. The bench's "
        "clients send no key; direct and http-hop store nothing of the kind."
    ]


def memory(archs: list[systems.Arch], postmaster: int | None) -> list[tuple[str, str, int, int]]:
    """(architecture, process, peak RSS kB, RSS kB) of every process, and each one's largest backend."""
    rows = []
    for arch in archs:
        for name, pid in arch.components().items():
            hwm, rss = cpu.memory_kb(pid)
            rows.append((arch.name, name, hwm, rss))
        if postmaster is not None:
            backends = [
                child
                for child in cpu.children_map().get(postmaster, ())
                if cpu.backend_database(child) == arch.database
            ]
            if backends:
                worst = max(backends, key=lambda pid: cpu.memory_kb(pid)[0])
                hwm, rss = cpu.memory_kb(worst)
                rows.append((arch.name, f"postgres backend (largest of {len(backends)})", hwm, rss))
    if postmaster is not None:
        hwm, rss = cpu.memory_kb(postmaster)
        rows.append(("shared", "postgres postmaster", hwm, rss))
    return rows


def versions(server_url: str) -> dict[str, str]:
    """What the figures ran on: Python, kernel, cores, CPU model, Postgres, wrk."""
    out = {"python": platform.python_version(), "kernel": platform.release(), "cores": str(os.cpu_count())}
    model = _cpu_model()
    if model is not None:
        out["cpu"] = model
    out["postgres"] = asyncio.run(_postgres_version(server_url))
    out["wrk"] = "installed" if wrk.available() else "absent (Python generator used)"
    return out


def _cpu_model() -> str | None:
    try:
        return next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        return None


async def _postgres_version(server_url: str) -> str:
    con = await asyncpg.connect(server_url)
    try:
        return str(await con.fetchval("SHOW server_version"))
    finally:
        await con.close()
