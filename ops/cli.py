"""The `loans` command: start the system or one part of it, and talk to it as a tool."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date

import msgspec

from actors.contracts.config import ConfigError, Settings
from ops.registry import ACTORS
from ops.runtime_file import settings_with_running_system
from otel.logs import configure as configure_logging
from otel.setup import setup as setup_tracing


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loans", description="loan-actors: a lending back office over NATS")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="everything on this machine: NATS, Postgres, workers, edge")
    up.set_defaults(run=_up)
    for actor in ACTORS:
        up.add_argument(f"--{actor}", type=int, default=1, metavar="N", help=f"{actor} worker processes")
    up.add_argument("--port", type=int, default=None, help="HTTP port of the edge (default 8000)")

    worker = sub.add_parser("worker", help="one worker process of an actor")
    worker.set_defaults(run=_worker)
    worker.add_argument("actor", choices=list(ACTORS))
    worker.add_argument("--concurrency", type=int, default=None, help="requests handled at once")

    edge = sub.add_parser("edge", help="the HTTP edge alone")
    edge.set_defaults(run=_edge)
    edge.add_argument("--port", type=int, default=None)

    sub.add_parser("migrate", help="apply db/ migrations (idempotent)").set_defaults(run=_migrate)

    admin = sub.add_parser("admin", help="administration")
    admin.set_defaults(run=_admin)
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create", help="create an admin (the first one, typically)")
    create.add_argument("--email", required=True)
    create.add_argument("--first-name", default="Admin")
    create.add_argument("--last-name", default="User")
    create.add_argument("--password-stdin", action="store_true", required=True, help="read the password")

    events = sub.add_parser("events", help="watch and mend the event flow")
    events.set_defaults(run=_events)
    events_sub = events.add_subparsers(dest="events_command", required=True)
    tail = events_sub.add_parser("tail", help="print events as they flow")
    tail.add_argument("--seconds", type=float, default=None, help="stop after this long")
    events_sub.add_parser("dlq", help="list dead-lettered events with their reasons")
    replay = events_sub.add_parser("replay", help="send a dead-lettered event back (by event id or seq)")
    replay.add_argument("id")

    request = sub.add_parser("request", help="send one request on NATS and print the reply")
    request.set_defaults(run=_request)
    request.add_argument("subject")
    request.add_argument("body", nargs="?", default="{}")
    _token_options(request, "bearer token to send")
    request.add_argument("--timeout", type=float, default=5.0)

    cob = sub.add_parser("cob", help="the close of business: a run's progress, or start one")
    cob.set_defaults(run=_cob)
    cob_sub = cob.add_subparsers(dest="cob_command", required=True)
    status = cob_sub.add_parser("status", help="how the run to DATE stands (default: today, UTC)")
    status.add_argument("date", nargs="?", type=date.fromisoformat, default=None, metavar="DATE")
    run = cob_sub.add_parser("run", help="start the run to DATE (YYYY-MM-DD)")
    run.add_argument("date", type=date.fromisoformat, metavar="DATE")
    for parser in (status, run):
        _token_options(parser, "an admin's bearer token")
        parser.add_argument("--timeout", type=float, default=10.0)

    imports = sub.add_parser("import", help="bring another system's data across")
    imports.set_defaults(run=_import)
    import_sub = imports.add_subparsers(dest="import_command", required=True)
    django = import_sub.add_parser("django", help="the Django monolith's users, loans and history (§13)")
    django.add_argument("--source", required=True, help="postgresql://… of the monolith's database")
    django.add_argument("--report", default="import-report.csv", help="where the rows that did not fit go")
    django.add_argument("--dry-run", action="store_true", help="say what would happen; write nothing")
    django.add_argument("--batch", type=int, default=500, help="rows a request (at most 1000)")
    django.add_argument("--users-table", default="user_user")
    django.add_argument("--loans-table", default="loan_loan")
    django.add_argument("--history-table", default="loan_historicalloan")
    _token_options(django, "an admin's bearer token")

    stats = sub.add_parser("stats", help="requests, errors and time per subject and replica ($SRV.STATS)")
    stats.set_defaults(run=_stats)
    stats.add_argument("--wait", type=float, default=0.5, help="seconds to collect the replicas' replies")
    return p


TOKEN_VARIABLE = "LOANS_TOKEN"


def _token_options(parser: argparse.ArgumentParser, what: str) -> None:
    """--token-stdin or LOANS_TOKEN keep the token out of the process list; --token shows it there."""
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--token", default=None, help=f"{what} (visible in ps: prefer the two below)")
    given.add_argument("--token-stdin", action="store_true", help=f"read {what} from stdin's first line")
    parser.epilog = f"Without --token or --token-stdin, the token is read from ${TOKEN_VARIABLE} if set."


def _token(args: argparse.Namespace) -> str | None:
    """The bearer token: --token, else stdin's first line (--token-stdin), else $LOANS_TOKEN."""
    if args.token is not None:
        return str(args.token)
    if args.token_stdin:
        return sys.stdin.readline().strip() or None
    return os.environ.get(TOKEN_VARIABLE) or None


def _service(args: argparse.Namespace) -> str | None:
    """The service name of a long-running process (its logs are JSON lines); None for a tool."""
    if args.command == "worker":
        return str(args.actor)
    return {"up": "up", "edge": "edge"}.get(args.command)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    service = _service(args)
    if service is not None:
        configure_logging(service)
    else:  # a tool run by a person: plain lines read better
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_with_running_system(service)  # a tool: the operator's logins
        if getattr(args, "concurrency", None):
            settings = msgspec.structs.replace(settings, concurrency=args.concurrency)
        if getattr(args, "port", None) is not None:
            settings = msgspec.structs.replace(settings, http_port=args.port)
        sys.exit(args.run(args, settings))
    except ConfigError as exc:
        print(f"loans: configuration: {exc}", file=sys.stderr)
        sys.exit(2)


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from ops.up import run_up

    return run_up(settings, {actor: getattr(args, actor) for actor in ACTORS})


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from ops.worker import run_worker

    telemetry = setup_tracing(args.actor)
    try:
        with asyncio.Runner(loop_factory=_fast_loop()) as runner:
            runner.run(run_worker(args.actor, settings))
    finally:
        telemetry.shutdown()  # exports the spans still buffered
    return 0


def _edge(args: argparse.Namespace, settings: Settings) -> int:
    from edge.app import serve

    telemetry = setup_tracing("edge")
    try:
        serve(settings)
    finally:
        telemetry.shutdown()
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from actors.runtime.migrate import migrate

    for name in asyncio.run(migrate(settings)):
        print(f"applied {name}")
    if settings.nats_url:  # as the tools user: the actors' users may not change a stream
        from ops.streams import bring_streams_up_to_date

        asyncio.run(bring_streams_up_to_date(settings))
        print("streams up to date")
    return 0


def _admin(args: argparse.Namespace, settings: Settings) -> int:
    from ops.admin import create_first_admin

    return asyncio.run(create_first_admin(settings, args))


def _events(args: argparse.Namespace, settings: Settings) -> int:
    from ops.events import run

    return asyncio.run(
        run(settings, args.events_command, getattr(args, "id", None), getattr(args, "seconds", None))
    )


def _request(args: argparse.Namespace, settings: Settings) -> int:
    from ops.request import send

    return asyncio.run(send(settings, args.subject, args.body, _token(args), args.timeout))


def _cob(args: argparse.Namespace, settings: Settings) -> int:
    from ops.cob import command

    return asyncio.run(command(settings, args.cob_command, args.date, _token(args), args.timeout))


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from ops.importing.run import Options, run
    from ops.importing.source import Tables

    tables = Tables(args.users_table, args.loans_table, args.history_table)
    options = Options(args.source, Path(args.report), args.dry_run, args.batch, tables=tables)
    return asyncio.run(run(settings, options, None if args.dry_run else _token(args)))


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from ops.stats import show

    return asyncio.run(show(settings, args.wait))


def _fast_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (uvicorn[standard] brings it): the bench's profile of a worker
    had 40 % of its time in asyncio's pure-Python transport code."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


if __name__ == "__main__":
    main()
