"""The servicing actor's subject table: every handler module of actors/servicing/ registers on it.

Servicing runs the approved loan (design.md §11): accounts, repayments and their reversal,
statements and payoff, the business date and the close of business that moves it, the portfolio.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.contracts import servicing as m
from actors.runtime.actor import Actor, Context


@dataclass(frozen=True)
class ServicingState:
    """Nothing yet: everything the servicing actor knows is in its schema."""


actor: Actor[ServicingState] = Actor(
    "servicing", description="Servicing: repayments, statements, payoff, close of business"
)
Ctx = Context[ServicingState]

for _event_type, _data_type in m.EVENTS.items():
    actor.publishes_event(_event_type, _data_type)
