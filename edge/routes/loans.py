"""The loan routes of api.md, each mapped onto its `loans.*` subject."""

from __future__ import annotations

from litestar import Router
from litestar.handlers import HTTPRouteHandler

from actors.contracts import loans as m
from edge.endpoint import Endpoint
from edge.forward import route_handler

# Static paths first in spirit; Litestar matches them before `/{loan_id}` whatever the order.
ENDPOINTS = [
    Endpoint("POST", "/customer-loan", "loans.create", "Loan requested", m.CreateLoan, m.Loan, status=201),
    Endpoint("PUT", "/approve-reject-loan/{loan_id}", "loans.decide", "Loan decided", m.DecideLoan, m.Loan),
    Endpoint("PUT", "/edit-loan/{loan_id}", "loans.edit", "Loan updated", m.EditLoan, m.Loan),
    Endpoint("GET", "/list-loans-admin-agent", "loans.list", "Loans", m.ListLoans, m.LoanPage),
    Endpoint("GET", "/list-loans-customer", "loans.list_mine", "Your loans", m.ListMyLoans, m.LoanPage),
    # `quote` is no UUID, so neither Litestar nor edge/fastpath.py takes it for a `{loan_id}`
    Endpoint("GET", "/quote", "loans.quote", "Loan quote", m.QuoteLoan, m.Quote),
    Endpoint("GET", "/{loan_id}", "loans.get", "Loan", m.LoanId, m.Loan),
    Endpoint("GET", "/{loan_id}/history", "loans.history", "Loan history", m.LoanHistory, m.HistoryPage),
    Endpoint("GET", "/{loan_id}/schedule", "loans.schedule", "Repayment schedule", m.LoanId, m.Schedule),
]


# (mount prefix, endpoint) of the routes that only forward: edge/fastpath.py answers them.
FORWARDED = [("/api/loan", ep) for ep in ENDPOINTS]


def handlers() -> list[Router | HTTPRouteHandler]:
    """Fresh handlers per app: Litestar sets an owner on each handler it registers."""
    return [Router("/api/loan", route_handlers=[route_handler(ep) for ep in ENDPOINTS])]
