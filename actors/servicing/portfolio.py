"""The portfolio: what the book of accounts stands at (servicing.portfolio), and the accounts
themselves a page at a time in loan id order (servicing.portfolio_accounts; the edge streams its
pages as CSV). Set-based SQL over the accounts' own columns: one statement per answer."""

from __future__ import annotations

from actors.contracts import servicing as m
from actors.runtime.sql import Statement
from actors.servicing.actor import Ctx, actor

# The totals over every account, and per bucket over the active ones (every bucket, in order,
# even an empty one), in one snapshot.
PORTFOLIO = Statement(
    """WITH totals AS (
           SELECT count(*) FILTER (WHERE status = 'ACTIVE')::int AS active,
                  count(*) FILTER (WHERE status = 'CLOSED')::int AS closed,
                  COALESCE(sum(outstanding_principal), 0.00) AS outstanding_principal,
                  COALESCE(sum(paid_principal), 0.00) AS collected_principal,
                  COALESCE(sum(paid_interest), 0.00) AS collected_interest
           FROM accounts
       ), per_bucket AS (
           SELECT b.bucket, b.n, count(a.loan_id)::int AS accounts,
                  COALESCE(sum(a.outstanding_principal), 0.00) AS outstanding_principal
           FROM unnest(ARRAY['current', '1-30', '31-60', '61-90', '90+']) WITH ORDINALITY AS b(bucket, n)
           LEFT JOIN accounts a ON a.bucket = b.bucket AND a.status = 'ACTIVE'
           GROUP BY b.bucket, b.n
       )
       SELECT (SELECT business_date FROM business_date) AS business_date, t.*,
              (SELECT array_agg(bucket ORDER BY n) FROM per_bucket) AS buckets,
              (SELECT array_agg(accounts ORDER BY n) FROM per_bucket) AS bucket_accounts,
              (SELECT array_agg(outstanding_principal ORDER BY n) FROM per_bucket) AS bucket_outstanding
       FROM totals t"""
)

_LINE = ", ".join(m.AccountLine.__struct_fields__)
# One row more than the page: whether there is a next page, without counting.
ACCOUNTS_AFTER = Statement(
    f"""SELECT {_LINE} FROM accounts
        WHERE loan_id > COALESCE(:after::uuid, '00000000-0000-0000-0000-000000000000')
        ORDER BY loan_id LIMIT :limit::int + 1"""
)


@actor.handle("servicing.portfolio", m.PortfolioQuery, roles={"admin"})
async def portfolio(req: m.PortfolioQuery, ctx: Ctx) -> m.Portfolio:
    """The book's totals and its active accounts per delinquency bucket."""
    row = await PORTFOLIO.fetchrow(ctx.pool)
    assert row is not None
    buckets = [
        m.BucketLine(bucket=bucket, accounts=accounts, outstanding_principal=outstanding)
        for bucket, accounts, outstanding in zip(
            row["buckets"], row["bucket_accounts"], row["bucket_outstanding"], strict=True
        )
    ]
    return m.Portfolio(
        business_date=row["business_date"],
        active=row["active"],
        closed=row["closed"],
        outstanding_principal=row["outstanding_principal"],
        collected_principal=row["collected_principal"],
        collected_interest=row["collected_interest"],
        buckets=buckets,
    )


@actor.handle("servicing.portfolio_accounts", m.PortfolioAccounts, roles={"admin"})
async def portfolio_accounts(req: m.PortfolioAccounts, ctx: Ctx) -> m.AccountLines:
    """One page of accounts in loan id order, after `after` (keyset paging)."""
    rows = await ACCOUNTS_AFTER.fetch(ctx.pool, after=req.after, limit=req.limit)
    page = [m.AccountLine(*tuple(row)) for row in rows[: req.limit]]
    return m.AccountLines(data=page, next=page[-1].loan_id if len(rows) > req.limit else None)
