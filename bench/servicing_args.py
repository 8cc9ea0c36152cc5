"""The command line of `python -m bench.servicing` (its usage is bench/servicing.py's docstring)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class Args:
    accounts: int
    workers: tuple[int, ...]
    big: int  # 0: no run at the big size
    cob: bool  # False: no close-of-business runs (the write loads alone)
    writes: bool
    duration: float
    connections: int
    rounds: int
    quick: bool
    keep: bool
    pg: dict[str, str]  # Postgres settings over `loans up`'s (an embedded server of the bench's own)
    fillfactor: int | None  # the accounts table's, set before the seed (a what-if: not the schema's)
    label: str
    loan_id_statistics: int | None  # what-if: accounts.loan_id's statistics target


def parse(argv: list[str] | None = None) -> Args:
    p = argparse.ArgumentParser(
        prog="python -m bench.servicing", description="Close of business and repayment CPU (issue 13 item 7)."
    )
    p.add_argument(
        "--accounts", type=int, default=None, help="accounts of the first runs (100000; --quick 20000)"
    )
    p.add_argument("--workers", default="1,2", help="servicing workers of each run at --accounts (1,2)")
    p.add_argument(
        "--big", type=int, default=None, help="accounts of a run with 2 workers (1000000; --quick 0)"
    )
    p.add_argument(
        "--cob", action=argparse.BooleanOptionalAction, default=True, help="close-of-business runs (on)"
    )
    p.add_argument(
        "--writes", action=argparse.BooleanOptionalAction, default=True, help="repay vs create (on)"
    )
    p.add_argument("--duration", type=float, default=None, help="seconds of each write load (10; --quick 2)")
    p.add_argument("--connections", type=int, default=32, help="closed-loop connections (32)")
    p.add_argument(
        "--rounds", type=int, default=None, help="create and repay measured in turns (2; --quick 1)"
    )
    p.add_argument("--quick", action="store_true", help="a smoke run: small, short")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    p.add_argument(
        "--pg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Postgres setting (shared_buffers=1GB)",
    )
    p.add_argument("--label", default="", help="write results/<date>-servicing-<label>.md (an experiment)")
    p.add_argument(
        "--loan-id-statistics", type=int, default=None, help="what-if: accounts.loan_id's statistics target"
    )
    p.add_argument("--fillfactor", type=int, default=None, help="what-if: the accounts table's fillfactor")
    a = p.parse_args(argv)
    workers = tuple(int(w) for w in a.workers.split(",") if w.strip())
    if not workers or min(workers) < 1:
        p.error("--workers: a comma list of counts, each at least 1")
    return Args(
        accounts=a.accounts or (20_000 if a.quick else 100_000),
        workers=workers,
        big=a.big if a.big is not None else (0 if a.quick else 1_000_000),
        cob=a.cob,
        writes=a.writes,
        duration=a.duration or (2.0 if a.quick else 10.0),
        connections=a.connections,
        rounds=a.rounds or (1 if a.quick else 2),
        quick=a.quick,
        keep=a.keep,
        pg=dict(x.split("=", 1) for x in a.pg),
        fillfactor=a.fillfactor,
        label=a.label,
        loan_id_statistics=a.loan_id_statistics,
    )
