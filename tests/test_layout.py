"""The layout's rules that an import graph alone cannot show."""

from __future__ import annotations

import subprocess
import sys


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_the_edge_process_loads_neither_asyncpg_nor_the_runtime() -> None:
    """`import edge.app` (what `loans edge` runs) leaves asyncpg and the actor framework unloaded."""
    loaded = _modules_loaded_by("import edge.app")
    assert "edge.app" in loaded
    assert not {m for m in loaded if m == "asyncpg" or m.startswith(("asyncpg.", "actors.runtime"))}


def test_the_cli_loads_no_actor_until_asked() -> None:
    """The `loans` command parses its arguments without importing any actor's code."""
    loaded = _modules_loaded_by("import ops.cli; ops.cli._parser()")
    assert "ops.registry" in loaded
    assert not {
        m for m in loaded if m.startswith(("actors.users", "actors.loans", "actors.runtime", "asyncpg"))
    }
