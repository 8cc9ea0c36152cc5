"""`python -m bench`: loan-actors against a direct app and an HTTP-hop gateway, side by side.

    python -m bench --quick                       # smoke run, under a minute
    python -m bench --duration 20                 # the full run (100,000 loans, 32 connections)
    python -m bench --scenarios list,create --profile
    python -m bench --scenarios list --no-tracing      # the list rows and the 1,000,000-loan one

Uses wrk for the closed-loop runs when it is installed (`apt-get install wrk`), else the Python
generator (bench/loadgen.py), which also does the open-loop runs. Set LOANS_DATABASE_URL /
LOANS_NATS_URL to use running servers instead of embedded ones (a NATS server no other
loan-actors deployment uses: the bench's workers join the `users` / `loans` queue groups).
"""

from __future__ import annotations

import argparse
import sys

from bench import plan
from bench.data import Shape
from bench.outcome import Options
from bench.profile import PROFILED


def parse(argv: list[str] | None = None) -> Options:
    """The Options the command line asks for; argparse's error (exit 2) on a bad combination."""
    p = _parser()
    return _options(p, p.parse_args(argv))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    _load_flags(p)
    _run_flags(p)
    _variant_flags(p)
    return p


def _load_flags(p: argparse.ArgumentParser) -> None:
    """How long, how hard, which scenarios, which generator."""
    p.add_argument("--duration", type=float, default=None, help="measured seconds per scenario (10)")
    p.add_argument("--warmup", type=float, default=None, help="warm-up seconds per scenario (2)")
    p.add_argument("--connections", type=int, default=32, help="closed-loop connections (32)")
    p.add_argument(
        "--login-connections", type=int, default=None, help="connections of the login storm (16; --quick 4)"
    )
    p.add_argument("--rate", type=float, default=100.0, help="open-loop requests per second (100)")
    p.add_argument(
        "--scenarios",
        default=None,
        help=f"comma list of: {', '.join(plan.SCENARIOS)} (all; --quick: all but storm)",
    )
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")


def _run_flags(p: argparse.ArgumentParser) -> None:
    """The data, --quick, --profile, http-hop's client, the wait for a quiet machine."""
    p.add_argument("--loans", type=int, default=None, help="seeded loans (100000; --quick 20000)")
    p.add_argument("--customers", type=int, default=None, help="seeded customers (5000; --quick 1000)")
    p.add_argument("--quick", action="store_true", help="everything in under 60 s: short runs, fewer rows")
    p.add_argument(
        "--profile",
        nargs="?",
        const="list",
        default="",
        metavar="SCENARIO",
        choices=PROFILED,
        help="py-spy the path of list (the default) or create afterwards (needs py-spy)",
    )
    p.add_argument("--client", choices=["aiohttp", "httpx"], default=None, help="http-hop's client")
    p.add_argument(
        "--wait-for-quiet-machine",
        type=float,
        default=60.0,
        metavar="S",
        help="before each measurement, wait up to S s for other load on the machine to pass (60; --quick 0)",
    )


def _variant_flags(p: argparse.ArgumentParser) -> None:
    """The variants (loan-actors alone), --rounds, --keep."""
    p.add_argument(
        "--scale",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="GET list on loan-actors alone at --scale-loans loans and at the run's own (on; --quick off)",
    )
    p.add_argument(
        "--tracing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="GET list on loan-actors alone with tracing on (spans to a file) and off (on; --quick off)",
    )
    p.add_argument(
        "--scale-out",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="GET list on loan-actors alone with 1, 2, 4 loans workers and 1, 2 edges (on; --quick off)",
    )
    p.add_argument("--scale-loans", type=int, default=1_000_000, help="loans of --scale (1000000)")
    p.add_argument(
        "--scale-customers", type=int, default=None, help="customers of --scale (as --customers: 5000)"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure list and create this many times, architectures interleaved; the ratios are "
        "the medians (1)",
    )
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, data) for inspection")


def _options(p: argparse.ArgumentParser, a: argparse.Namespace) -> Options:
    """Options from the parsed flags: --quick's defaults where a flag is not given."""
    default = [n for n in plan.SCENARIOS if not (a.quick and plan.SCENARIOS[n].storm)]
    names = tuple(n.strip() for n in (a.scenarios or ",".join(default)).split(",") if n.strip())
    unknown = [n for n in names if n not in plan.SCENARIOS]
    if unknown:
        p.error(f"unknown scenarios: {', '.join(unknown)}")
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    if a.profile and a.profile not in names:
        p.error(f"--profile {a.profile}: the scenario must be among those run")
    quick = a.quick
    shape = Shape(
        loans=a.loans or (20_000 if quick else 100_000),
        customers=a.customers or (1_000 if quick else 5_000),
    )
    scale_shape = Shape(loans=a.scale_loans, customers=a.scale_customers or shape.customers)
    if scale_shape.customers < min(shape.customers, 1000):  # the list requests' customers
        p.error(f"--scale-customers must be at least {min(shape.customers, 1000)}")
    return Options(
        duration=a.duration or (1.0 if quick else 10.0),
        warmup=a.warmup if a.warmup is not None else (0.25 if quick else 2.0),
        quiet_limit=10.0 if quick else 30.0,
        machine_quiet_limit=0.0 if quick else a.wait_for_quiet_machine,
        connections=a.connections,
        login_connections=a.login_connections or (4 if quick else 16),
        rate=a.rate,
        scenarios=names,
        loadgen=a.loadgen,
        shape=shape,
        quick=quick,
        profile=a.profile,
        rounds=a.rounds,
        client=a.client,
        keep=a.keep,
        scale=not quick if a.scale is None else a.scale,
        tracing=not quick if a.tracing is None else a.tracing,
        scale_out=not quick if a.scale_out is None else a.scale_out,
        scale_shape=scale_shape,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    from bench import report
    from bench.run import run

    variants = plan.variants(opts.scale, opts.tracing, opts.scale_out)
    print(
        f"bench: {len(opts.scenarios)} scenarios × 3 architectures, {opts.duration:g} s each, "
        f"{opts.shape.loans:,} loans over {opts.shape.customers:,} customers"
        + (f"; then loan-actors alone: {', '.join(variants)}" if variants else "")
        + ("; then the scale-out shapes" if opts.scale_out else ""),
        flush=True,
    )
    outcome = run(opts)
    text = report.render(outcome)
    path = report.write(outcome)
    print(text.rsplit("\n", 2)[0])  # everything but the ratios line…
    print(f"\nwritten to {path}")
    print(report.ratios(outcome))  # …which is the last line
    return 0


if __name__ == "__main__":
    sys.exit(main())
