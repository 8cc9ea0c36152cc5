"""SQL statements written with named parameters, numbered for asyncpg once, when declared.

A statement's text names its parameters (`:loan_id`, `:fields::jsonb`); the statement declares
them, either as the order they first appear in the text or as NamedTuple row types whose fields
are the names. The text is rendered to `$1`…`$n` here, once, and every call builds its arguments
by name (`args`), from its rows (`args_of`), or as one array per field of many rows (`columns_of`):
a column added to a statement can never silently shift another's `$n`. A name used twice is one
parameter; colons in string literals, quoted names and comments are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import asyncpg

from actors.runtime.db import Conn

# Left to right: a comment, a string literal or a quoted name (copied as they are), or a parameter
# (a colon not part of a `::` cast, then a name).
_TOKEN = re.compile(r"""--[^\n]*|'(?:[^']|'')*'|"(?:[^"]|"")*"|(?<![:\w]):([A-Za-z_]\w*)""")
_NUMBERED = re.compile(r"\$\d")

Db = asyncpg.Pool | Conn  # a pool or one of its connections: both run statements


def names_in(text: str) -> tuple[str, ...]:
    """The parameter names in `text`, each once, in the order they first appear."""
    found = (m.group(1) for m in _TOKEN.finditer(text) if m.group(1) is not None)
    return tuple(dict.fromkeys(found))


class Statement:
    """A statement and its declared parameters; `sql` is the text asyncpg is given."""

    __slots__ = ("_pick", "_rows", "params", "sql")

    def __init__(self, text: str, *rows: type[tuple[Any, ...]]) -> None:
        if _NUMBERED.search(_TOKEN.sub(lambda m: "" if m.group(1) is None else m.group(0), text)):
            raise ValueError(f"write parameters as :name, not $n: {text.strip()[:80]!r}")
        used = names_in(text)
        self._rows = rows
        self.params: tuple[str, ...] = used
        if rows:
            self.params = tuple(name for row in rows for name in _fields(row))
            if len(set(self.params)) != len(self.params):
                raise ValueError(f"rows {[r.__name__ for r in rows]} repeat a field name")
            unused, undeclared = set(self.params) - set(used), set(used) - set(self.params)
            if unused or undeclared:
                raise ValueError(
                    f"declared but not in the text: {sorted(unused)}; "
                    f"in the text but not declared: {sorted(undeclared)}"
                )
        number = {name: f"${i}" for i, name in enumerate(self.params, start=1)}
        self.sql = _TOKEN.sub(lambda m: m.group(0) if m.group(1) is None else number[m.group(1)], text)
        self._pick = _picker(self.params)

    def __repr__(self) -> str:
        return f"Statement({self.sql.strip()[:60]!r}…, params={self.params})"

    def args(self, **values: Any) -> tuple[Any, ...]:
        """The arguments, by name: every declared parameter, and nothing else."""
        return self._by_name(values)

    def args_of(self, *rows: tuple[Any, ...]) -> tuple[Any, ...]:
        """The arguments from one row of each declared row type, in the declared order."""
        if tuple(map(type, rows)) != self._rows:
            expected, got = [t.__name__ for t in self._rows], [type(r).__name__ for r in rows]
            raise TypeError(f"expected rows {expected}, got {got}")
        return tuple(chain.from_iterable(rows))

    def columns_of(self, rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
        """The arguments of an `unnest(...)` statement: one list per field of its one row type."""
        (row_type,) = self._rows
        if any(type(r) is not row_type for r in rows):
            raise TypeError(f"expected rows of {row_type.__name__}")
        if not rows:
            return tuple([] for _ in self.params)
        return tuple(list(column) for column in zip(*rows, strict=True))

    def _by_name(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        # As many values as parameters, and each parameter found: exactly the declared ones.
        try:
            if len(values) == len(self.params):
                return self._pick(values)
        except KeyError:
            pass
        missing, unknown = set(self.params) - values.keys(), values.keys() - set(self.params)
        raise TypeError(f"missing parameters {sorted(missing)}, unknown {sorted(unknown)}")

    # Run it on a pool or a connection, arguments by name; each returns the driver's own awaitable.
    def execute(self, db: Db, /, **values: Any) -> Awaitable[str]:
        return db.execute(self.sql, *self._by_name(values))

    def fetch(self, db: Db, /, **values: Any) -> Awaitable[list[asyncpg.Record]]:
        return db.fetch(self.sql, *self._by_name(values))

    def fetchrow(self, db: Db, /, **values: Any) -> Awaitable[asyncpg.Record | None]:
        return db.fetchrow(self.sql, *self._by_name(values))

    def fetchval(self, db: Db, /, **values: Any) -> Awaitable[Any]:
        return db.fetchval(self.sql, *self._by_name(values))


def _picker(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """values → their tuple in `names` order, the lookups precomputed (itemgetter of one name
    gives the value itself, not a tuple)."""
    if not names:
        return lambda values: ()
    if len(names) == 1:
        (name,) = names
        return lambda values: (values[name],)
    pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = itemgetter(*names)
    return pick


def _fields(row: type[tuple[Any, ...]]) -> tuple[str, ...]:
    fields = getattr(row, "_fields", None)
    if not isinstance(fields, tuple):
        raise TypeError(f"{row.__name__} is not a NamedTuple")
    return fields
