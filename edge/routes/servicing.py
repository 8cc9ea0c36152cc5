"""The servicing routes of api.md, each mapped onto its `servicing.*` subject.

Two mounts: what concerns one loan's account lives under the loan's own path (/api/loan/{loan_id}/…),
what concerns the whole book under /api/servicing.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream

from actors.contracts import servicing as m
from actors.contracts.base import Empty
from edge.context import edge_of
from edge.csv_pages import CSV, csv_pages
from edge.endpoint import Endpoint
from edge.forward import admit, forward, handler_for, route_handler

LOAN = "/api/loan"
BOOK = "/api/servicing"
NOT_ACTIVE = {409: "The loan is not active (not approved, so no account)"}

LOAN_ENDPOINTS = [
    Endpoint(
        "POST",
        "/{loan_id}/repayments",
        "servicing.record_repayment",
        "Repayment recorded",
        m.RecordRepayment,
        m.Transaction,
        status=201,
    ),
    Endpoint(
        "GET",
        "/{loan_id}/repayments",
        "servicing.list_repayments",
        "Repayments",
        m.ListRepayments,
        m.TransactionPage,
        errors=NOT_ACTIVE,
    ),
    Endpoint(
        "POST",
        "/{loan_id}/repayments/{transaction_id}/reverse",
        "servicing.reverse_repayment",
        "Repayment reversed",
        m.ReverseRepayment,
        m.Transaction,
    ),
    Endpoint(
        "GET",
        "/{loan_id}/statement",
        "servicing.statement",
        "Statement",
        m.AccountId,
        m.Statement,
        errors=NOT_ACTIVE,
    ),
    Endpoint(
        "GET",
        "/{loan_id}/payoff",
        "servicing.payoff",
        "Payoff quote",
        m.PayoffQuery,
        m.PayoffQuote,
        errors=NOT_ACTIVE,
    ),
]

BOOK_ENDPOINTS = [
    Endpoint("GET", "/business-date", "servicing.business_date", "Business date", Empty, m.BusinessDate),
    # The actor says whether it started a run (RUNNING: accepted, 202) or had nothing to do (DONE).
    Endpoint(
        "POST",
        "/close-of-business",
        "servicing.run_cob",
        "Close of business",
        m.RunCloseOfBusiness,
        m.CloseOfBusiness,
        status=202,
        status_by=("status", {"RUNNING": 202, "DONE": 200}),
    ),
    # `{date}` is a date because CloseOfBusinessDate.date is one (edge/endpoint.py)
    Endpoint(
        "GET",
        "/close-of-business/{date}",
        "servicing.cob_status",
        "Close of business progress",
        m.CloseOfBusinessDate,
        m.CloseOfBusiness,
    ),
]

# format=json (the default) forwards; format=csv streams servicing.portfolio_accounts instead.
PORTFOLIO = Endpoint(
    "GET", "/portfolio", "servicing.portfolio", "Portfolio", m.PortfolioQuery, m.Portfolio, also_as=(CSV,)
)
# Not a route of its own: the pages behind the CSV.
PORTFOLIO_ACCOUNTS = Endpoint(
    "GET", "/portfolio", "servicing.portfolio_accounts", "Accounts", m.PortfolioAccounts, m.AccountLines
)
CSV_PAGE_SIZE = 1000  # accounts per servicing.portfolio_accounts request

ENDPOINTS = [*LOAN_ENDPOINTS, *BOOK_ENDPOINTS, PORTFOLIO, PORTFOLIO_ACCOUNTS]

# (mount prefix, endpoint) of the routes that only forward: edge/fastpath.py answers them. The
# portfolio is answered by Litestar: it may stream, and it is an admin's occasional report.
FORWARDED = [(LOAN, ep) for ep in LOAN_ENDPOINTS] + [(BOOK, ep) for ep in BOOK_ENDPOINTS]


async def portfolio(request: Request[Any, Any, Any]) -> Response[Any]:
    """The portfolio summary, or with format=csv one row per account, streamed."""
    if request.query_params.get("format") != "csv":
        return await forward(request, PORTFOLIO)  # json, or a format the actor refuses (400)
    edge = edge_of(request)
    admit(edge, request.client.host if request.client else "")
    await edge.verifier.verify_header(request.headers.get("authorization"))
    rows = await csv_pages(edge, PORTFOLIO_ACCOUNTS, request.headers, CSV_PAGE_SIZE)
    disposition = {"Content-Disposition": 'attachment; filename="portfolio.csv"'}
    return Stream(rows, media_type=CSV, headers=disposition)


def handlers() -> list[Router | HTTPRouteHandler]:
    """Fresh handlers per app: Litestar sets an owner on each handler it registers."""
    book = [*map(route_handler, BOOK_ENDPOINTS), handler_for(PORTFOLIO)(portfolio)]
    return [
        Router(LOAN, route_handlers=[route_handler(ep) for ep in LOAN_ENDPOINTS]),
        Router(BOOK, route_handlers=book),
    ]
