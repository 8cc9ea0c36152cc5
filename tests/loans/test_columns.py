"""The loan query columns are the Loan Struct's fields, in order (to_loan builds it positionally)."""

from actors.contracts import loans as m
from actors.loans import queries as q


def test_loan_columns_are_the_loan_fields_in_order() -> None:
    columns = [c.strip() for c in q.LOAN_COLUMNS.split(",")]
    assert columns == list(m.Loan.__struct_fields__)
