"""CPU time and peak memory of process trees, from /proc (Linux).

CPU is utime + stime of every live process of a tree (the root and its descendants). Postgres is
one postmaster for every architecture under test: its backends are told apart by the database in
their process title (`postgres: <role> <database> <host>(<port>) <state>`); the postmaster and its
auxiliary processes (checkpointer, WAL writer, I/O workers, autovacuum…) are shared, and counted
for whichever architecture is under load at the time (the others are idle).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ")"
    return raw.rsplit(")", 1)[1].split()


def cpu_ticks(pid: int) -> int:
    fields = stat_fields(pid)
    if fields is None:
        return 0
    # after the name: state(0) ppid(1) … utime(11) stime(12)
    return int(fields[11]) + int(fields[12])


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(int(entry))
            if fields is not None:
                kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def tree(root: int, kids: dict[int, list[int]]) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def backend_database(pid: int) -> str | None:
    """The database of a Postgres backend, or None for the postmaster's other processes."""
    title = cmdline(pid)
    if not title.startswith("postgres: "):
        return None
    parts = title.removeprefix("postgres: ").split()
    if len(parts) >= 3 and ("(" in parts[2] or parts[2] == "[local]"):
        return parts[1]
    return None


@dataclass(frozen=True)
class Scope:
    """What one architecture's CPU is: its own process trees, plus its Postgres backends."""

    roots: dict[str, int]  # component name → root pid
    postmaster: int | None
    database: str | None

    def pids(self) -> dict[int, str]:
        """Every process of the architecture now, with the component it belongs to."""
        kids = children_map()
        pids: dict[int, str] = {}
        for name, root in self.roots.items():
            for pid in tree(root, kids):
                pids[pid] = name
        if self.postmaster is not None:
            pids[self.postmaster] = "postgres"
            for child in kids.get(self.postmaster, ()):
                db = backend_database(child)
                if db is None or db == self.database:
                    pids[child] = "postgres"
        return pids


def snapshot(pids: Iterable[int]) -> dict[int, int]:
    return {pid: cpu_ticks(pid) for pid in pids}


def cpu_by_component(
    before: dict[int, int], after: dict[int, int], names: dict[int, str]
) -> dict[str, float]:
    """CPU seconds used between two snapshots, per component; a process born in between counts
    from zero (one that died in between is lost: the pools keep their connections, so none do)."""
    out: dict[str, float] = {}
    for pid, ticks in after.items():
        if ticks:
            name = names.get(pid, "other")
            out[name] = out.get(name, 0.0) + (ticks - before.get(pid, 0)) / TICK
    return out


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) in kB: the peak resident size so far and the current one."""
    hwm = rss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return hwm, rss


def wait_quiet(scopes: Iterable[Scope], limit: float, window: float = 0.2, share: float = 0.15) -> float:
    """Until the scopes' processes together use under `share` of one core over `window` seconds
    (work left over from a run, such as queued bcrypt hashes or the outbox relay, is done), or
    `limit` seconds have passed; returns the seconds waited."""
    scopes = list(scopes)
    started = time.monotonic()

    def ticks() -> int:
        return sum(cpu_ticks(pid) for scope in scopes for pid in scope.pids())

    last = ticks()
    while time.monotonic() - started < limit:
        time.sleep(window)
        now = ticks()
        if (now - last) / TICK < share * window:
            break
        last = now
    return time.monotonic() - started


def machine_busy() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / TICK, steal / TICK


def wait_machine_quiet(
    scopes: Iterable[Scope], limit: float, window: float = 0.5, share: float = 0.1
) -> float:
    """Until processes outside `scopes` (another test suite on a shared machine, say) use under
    `share` of a core over `window` seconds, or `limit` seconds have passed; returns the wait."""
    scopes = list(scopes)
    started = time.monotonic()

    def ours() -> float:
        return sum(cpu_ticks(pid) for scope in scopes for pid in scope.pids()) / TICK

    while time.monotonic() - started < limit:
        busy0, ours0 = machine_busy()[0], ours()
        time.sleep(window)
        foreign = machine_busy()[0] - busy0 - (ours() - ours0)
        if foreign < share * window:
            break
    return time.monotonic() - started
