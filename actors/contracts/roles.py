"""The roles a token carries (design.md §5), and the sets of them that subjects admit."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["customer", "agent", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
ANY_USER = frozenset(ROLES)
STAFF = frozenset({"admin", "agent"})
