"""The actors this system is made of: the one place that names them.

Each entry is the module holding the actor's `DEPLOYABLE` (its subject table, how a worker builds
it, what is prepared once). Imported on demand, so `loans edge` never loads an actor's code
(asyncpg, its handlers). Adding an actor: its folder under actors/, one line here, its migration
folder under db/, its subjects in subjects.md (README "Adding an actor").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the edge process imports this module too: no asyncpg for it
    from actors.runtime.actor import Deployable

ACTORS: dict[str, str] = {
    "users": "actors.users.service",
    "loans": "actors.loans.service",
    "servicing": "actors.servicing.service",
}


def deployable(name: str) -> Deployable:
    """The actor called `name`, imported now."""
    try:
        module = ACTORS[name]
    except KeyError:
        raise ValueError(f"no actor named {name!r}") from None
    found: Deployable = importlib.import_module(module).DEPLOYABLE
    return found


def deployables() -> list[Deployable]:
    return [deployable(name) for name in ACTORS]
