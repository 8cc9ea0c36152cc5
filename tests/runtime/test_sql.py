"""Statements with named parameters: each one's `$n` are exactly its declared parameters."""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any, NamedTuple

import pytest

from actors.contracts import loans as m
from actors.loans import queries as loan_queries
from actors.loans import records
from actors.loans.money import terms_for
from actors.loans.parties import Party
from actors.runtime.events import OutboxRow
from actors.runtime.idempotency import StoredAnswer
from actors.runtime.sql import Statement, names_in

# The packages whose statements are declared with actors.runtime.sql (parties.py is not yet).
PACKAGES = ("actors.runtime", "actors.users", "actors.loans")
DECLARED = (
    "actors.runtime.idempotency",
    "actors.runtime.events",
    "actors.users.queries",
    "actors.loans.queries",
    "actors.loans.records",
)


def placeholder_problems(statement: Statement) -> list[str]:
    """What is wrong between a statement's rendered text and its declared parameters: a `$n` with
    no parameter, a parameter never used, a name left unrendered, a name declared twice."""
    used = {int(n) for n in re.findall(r"\$(\d+)", statement.sql)}
    declared = set(range(1, len(statement.params) + 1))
    problems = [f"${n} has no declared parameter" for n in sorted(used - declared)]
    problems += [f"{statement.params[n - 1]} (${n}) is not in the text" for n in sorted(declared - used)]
    problems += [f":{name} is not rendered" for name in names_in(statement.sql)]
    if len(set(statement.params)) != len(statement.params):
        problems.append(f"a parameter is declared twice: {statement.params}")
    return problems


def _modules() -> Iterator[ModuleType]:
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        yield package
        for info in pkgutil.iter_modules(package.__path__, f"{package_name}."):
            yield importlib.import_module(info.name)


def every_statement() -> list[tuple[str, Statement]]:
    """Each statement the actors declare at module level, and each variant their factories make."""
    found = [
        (f"{module.__name__}.{name}", value)
        for module in _modules()
        for name, value in vars(module).items()
        if isinstance(value, Statement)
    ]
    for keyed in (False, True):
        found.append((f"create_loan(keyed={keyed})", loan_queries.create_loan(keyed)))
        found.append((f"record_change(keyed={keyed})", loan_queries.record_change(keyed)))
    for n in range(len(loan_queries.FILTERS) + 1):
        for given in itertools.combinations(loan_queries.FILTERS, n):
            page, count = loan_queries.list_loans(given)
            found += [(f"list_loans{given} page", page), (f"list_loans{given} count", count)]
    for status in (None, "NEW"):
        found.append(
            (f"customer_loans(status={status})", loan_queries.customer_loans(uuid.uuid4(), status)[0])
        )
    return found


@pytest.mark.parametrize(
    ("name", "statement"), every_statement(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_statement_uses_exactly_its_declared_parameters(name: str, statement: Statement) -> None:
    assert placeholder_problems(statement) == [], name


def test_the_actors_declare_statements_of_every_kind() -> None:
    """The walk finds them (an empty walk would make the test above pass on nothing)."""
    names = {name for name, _ in every_statement()}
    assert {"actors.users.queries.insert_user", "actors.runtime.events.INSERT_OUTBOX"} <= names
    assert "actors.runtime.idempotency.STORE" in names and "actors.loans.queries.decide_loan" in names


@pytest.mark.parametrize("module_name", DECLARED)
def test_no_statement_is_left_with_numbered_parameters(module_name: str) -> None:
    """A plain string with `$n` beside the declared statements would be one nobody checks."""
    module = importlib.import_module(module_name)
    numbered = [
        name for name, value in vars(module).items() if isinstance(value, str) and re.search(r"\$\d", value)
    ]
    assert numbered == []


def test_the_check_finds_a_gap_an_extra_and_an_unrendered_name() -> None:
    """placeholder_problems can fail: a text whose numbers disagree with its parameters."""
    broken = Statement("SELECT :a, :b")
    assert placeholder_problems(broken) == []
    broken.sql = "SELECT $1, $3, :c"  # as a hand edit of the rendered text would leave it
    assert placeholder_problems(broken) == [
        "$3 has no declared parameter",
        "b ($2) is not in the text",
        ":c is not rendered",
    ]


def test_names_are_numbered_in_order_and_a_repeated_name_is_one_parameter() -> None:
    s = Statement("SELECT * FROM t WHERE a = :a AND (:b::text IS NULL OR b = :b) LIMIT :limit")
    assert s.params == ("a", "b", "limit")
    assert s.sql == "SELECT * FROM t WHERE a = $1 AND ($2::text IS NULL OR b = $2) LIMIT $3"
    assert s.args(limit=20, b=None, a=7) == (7, None, 20)


def test_casts_literals_quoted_names_and_comments_are_not_parameters() -> None:
    text = """SELECT '12:30'::time, ':x' AS ":y", '{}'::jsonb -- it's :z here
    FROM t WHERE a = :a"""
    s = Statement(text)
    assert s.params == ("a",)
    assert s.sql == text.replace(":a", "$1")


def test_a_numbered_parameter_in_the_text_is_refused() -> None:
    with pytest.raises(ValueError, match=r":name, not \$n"):
        Statement("SELECT :a, $2")
    Statement("SELECT '$2', :a")  # in a literal it is text


class _Pair(NamedTuple):
    a: int
    b: int


class _Other(NamedTuple):
    c: int


def test_rows_declare_the_parameters_and_the_text_must_use_them_all() -> None:
    s = Statement("INSERT INTO t VALUES (:c, :b, :a)", _Pair, _Other)
    assert s.params == ("a", "b", "c")
    assert s.sql == "INSERT INTO t VALUES ($3, $2, $1)"
    assert s.args_of(_Pair(1, 2), _Other(3)) == (1, 2, 3)
    with pytest.raises(ValueError, match=r"declared but not in the text: \['c'\]"):
        Statement("INSERT INTO t VALUES (:a, :b)", _Pair, _Other)
    with pytest.raises(ValueError, match=r"in the text but not declared: \['d'\]"):
        Statement("INSERT INTO t VALUES (:a, :b, :d)", _Pair)


def test_arguments_must_be_exactly_the_declared_ones() -> None:
    s = Statement("SELECT :a, :b", _Pair)
    with pytest.raises(TypeError, match=r"missing parameters \['b'\]"):
        s.args(a=1)
    with pytest.raises(TypeError, match=r"unknown \['c'\]"):
        s.args(a=1, b=2, c=3)
    with pytest.raises(TypeError, match=r"missing parameters \['b'\], unknown \['c'\]"):
        s.args(a=1, c=3)
    with pytest.raises(TypeError, match="expected rows"):
        s.args_of((1, 2))  # a plain tuple: its order is agreed with nobody
    with pytest.raises(TypeError, match="expected rows"):
        Statement("SELECT :a, :b, :c", _Pair, _Other).args_of(_Other(3), _Pair(1, 2))


def test_columns_of_many_rows_are_one_list_per_field() -> None:
    s = Statement("INSERT INTO t SELECT * FROM unnest(:a::int[], :b::int[])", _Pair)
    assert s.columns_of([_Pair(1, 2), _Pair(3, 4)]) == ([1, 3], [2, 4])
    with pytest.raises(TypeError):
        s.columns_of([(1, 2)])


def test_a_new_loan_statement_takes_each_value_as_its_named_parameter() -> None:
    """The create statement's arguments, read back by name, are the loan's own values."""
    agent = Party(
        id=uuid.uuid4(),
        role="agent",
        status="active",
        email="a@x",
        first_name="A",
        last_name="G",
        deleted=False,
    )
    customer = Party(
        id=uuid.uuid4(),
        role="customer",
        status="active",
        email="c@x",
        first_name="C",
        last_name="U",
        deleted=False,
    )
    now = datetime.now(UTC)
    loan = records.new_loan(agent, customer, Decimal("20000"), 6, terms_for(Decimal("20000"), 6), now)
    event = OutboxRow(uuid.uuid4(), "events.loans.loan.created", b"{}", "{}")
    answer = StoredAnswer(agent.id, "loans.create", "k", b"h", b"{}")
    statement = loan_queries.create_loan(True)
    given: dict[str, Any] = dict(
        zip(statement.params, statement.args_of(records.new_loan_row(loan), event, answer), strict=True)
    )
    assert {f: given[f] for f in m.Loan.__struct_fields__ if f in given} == {
        f: getattr(loan, f) for f in m.Loan.__struct_fields__ if f in given
    }
    assert (given["customer_email"], given["agent_email"], given["created_at"]) == ("c@x", "a@x", now)
    assert (given["event_id"], given["key"]) == (event.event_id, "k")
