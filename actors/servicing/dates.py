"""The business date: the one date repayments and delinquency are judged by (design.md §11).

It lives in one row of the schema; only close of business moves it (actors/servicing/cob*).
"""

from __future__ import annotations

from datetime import date

from actors.contracts import servicing as m
from actors.contracts.base import Empty
from actors.contracts.roles import ANY_USER
from actors.runtime.sql import Db, Statement
from actors.servicing import agents
from actors.servicing.actor import Ctx, actor

_BUSINESS_DATE = Statement("SELECT business_date FROM business_date")


async def business_date(db: Db) -> date:
    """Today, as servicing counts days (a pool, or a connection inside the caller's transaction)."""
    value: date = await _BUSINESS_DATE.fetchval(db)
    return value


@actor.handle("servicing.business_date", Empty, roles=ANY_USER)
async def get_business_date(req: Empty, ctx: Ctx) -> m.BusinessDate:
    """The date repayments and delinquency are judged by."""
    if ctx.user.role == "agent":
        await agents.approved_agent(ctx)  # as on every servicing read: a revoked agent reads nothing
    return m.BusinessDate(business_date=await business_date(ctx.pool))
