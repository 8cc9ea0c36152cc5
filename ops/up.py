"""`loans up`: the whole system on one machine, each worker its own process, stopped as one.

Embedded NATS and Postgres start unless LOANS_NATS_URL / LOANS_DATABASE_URL point elsewhere;
their data lives under LOANS_DATA_DIR, so stopping and starting again keeps every user and loan.
A local mailbox (ops/mailbox.py) takes the notification mails, each an .eml file under
`<data dir>/mail/`, unless LOANS_SMTP_URL names a mail server to send through.
A child that dies is started again after a pause; Ctrl-C or SIGTERM stops the children (each
drains), then the embedded servers.

Nothing it makes is open to other local users (issue 12 H3): files 0600 and folders 0700, the
embedded servers' passwords under `<data dir>/credentials/` (ops/credentials.py), and each child
given only its own logins (ops/child_env.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import msgspec

from actors.contracts.config import Settings
from actors.runtime.migrate import migrate
from ops import runtime_file, scrape_targets
from ops.child_env import child_environ, without_credentials
from ops.credentials import TOOLS_USER, Credentials, private_folder, tighten
from ops.registry import deployables
from ops.streams import bring_streams_up_to_date

_RESTART_PAUSE = 1.0


@dataclass
class Child:
    """One supervised process: `loans worker …` or `loans edge`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = field(default=0.0)

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env)
        self.started_at = time.monotonic()

    def stop(self, grace: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_up(settings: Settings, workers: dict[str, int]) -> int:
    """Run everything until Ctrl-C; `workers`: how many worker processes of each actor."""
    os.umask(0o077)  # every file and folder made from here on, by us or a child: the owner's alone
    private_folder(settings.data_path)
    tighten(settings.data_path)
    credentials = Credentials(settings.data_path)
    # embedded NATS: each component its own user; another NATS: the login we were given, for all
    nats_passwords = {} if settings.nats_url else credentials.nats_passwords()
    embedded_postgres = settings.database_url is None
    with ExitStack() as servers:
        nats_url = settings.nats_url or _embedded_nats(settings, servers, nats_passwords)
        database_url = settings.database_url or _embedded_postgres(settings, servers, credentials)
        smtp_url = settings.smtp_url or _mailbox(settings, servers)
        mail = (
            f"via {_without_password(smtp_url)}" if settings.smtp_url else f"{settings.data_path / 'mail'}/"
        )
        # one password per role: the operator's (LOANS_<ACTOR>_DB_PASSWORD, or the older shared
        # one), else one made for this data dir; `migrate` sets it on the role
        role_passwords = {
            actor: settings.db_password_for(actor) or credentials.role_password(actor)
            for actor in (d.name for d in deployables())
        }
        settings = msgspec.structs.replace(
            settings,
            nats_url=nats_url,
            database_url=database_url,
            smtp_url=smtp_url,
            actor_db_passwords=role_passwords,
        )
        for applied in asyncio.run(migrate(settings)):
            print(f"migrated {applied}")
        # as the tools user: the actors' users may create a missing stream but not update one
        tools = (
            {"nats_user": TOOLS_USER, "nats_password": nats_passwords[TOOLS_USER]} if nats_passwords else {}
        )
        asyncio.run(bring_streams_up_to_date(msgspec.structs.replace(settings, **tools)))
        for actor in deployables():
            if actor.prepare is not None:
                actor.prepare(settings)  # once here, before several workers race to do it

        def env_of(component: str) -> dict[str, str]:
            return child_environ(settings, component, nats_passwords.get(component))

        loans_cmd = [sys.executable, "-m", "ops.cli"]
        ports = scrape_targets.metrics_ports(
            settings, [f"{actor}-{i}" for actor, count in workers.items() for i in range(count)]
        )
        children = [
            Child(
                name,
                [*loans_cmd, "worker", name.rpartition("-")[0]],
                {**env_of(name.rpartition("-")[0]), scrape_targets.PORT_VARIABLE: str(port)},
            )
            for name, port in ports.items()
        ]
        children.append(Child("edge", [*loans_cmd, "edge"], env_of("edge")))
        http_url = f"http://{settings.http_host}:{settings.http_port}"
        database_url = without_credentials(database_url)  # printed and in runtime.json: no password
        own = {"own_nats": bool(nats_passwords), "own_postgres": embedded_postgres}
        runtime_file.write(settings, nats_url, database_url, http_url, **own)
        servers.callback(runtime_file.remove, settings)
        targets = scrape_targets.write(settings, ports, http_url)
        servers.callback(scrape_targets.remove, settings)
        print(scrape_targets.describe(settings, ports, targets), flush=True)
        return _supervise(children, settings, http_url, nats_url, database_url, mail)


def _embedded_nats(settings: Settings, servers: ExitStack, passwords: dict[str, str]) -> str:
    from ops.embedded import EmbeddedNats

    nats_server = EmbeddedNats(settings.data_path, passwords=passwords)
    url = nats_server.start()
    servers.callback(nats_server.stop)
    return url


def _embedded_postgres(settings: Settings, servers: ExitStack, credentials: Credentials) -> str:
    from ops.embedded import EmbeddedPostgres

    postgres = EmbeddedPostgres(settings.data_path, password=credentials.superuser_password())
    url = postgres.start()
    servers.callback(postgres.stop)
    return url


def _mailbox(settings: Settings, servers: ExitStack) -> str:
    from ops.mailbox import Mailbox

    mailbox = Mailbox(settings.data_path)
    url = mailbox.start()
    servers.callback(mailbox.stop)  # after the workers: a mail being sent as they drain is kept
    return url


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.password else url


def _supervise(
    children: list[Child], settings: Settings, http: str, nats_url: str, db: str, mail: str
) -> int:
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for child in children:
        child.start()
    print(
        f"loan-actors is up\n  HTTP  {http}  (docs: {http}/schema/swagger)\n  NATS  {nats_url}\n"
        f"  DB    {db}\n  data  {settings.data_path}\n  mail  {mail}\nCtrl-C stops everything.",
        flush=True,
    )
    try:
        while not stopping:
            time.sleep(0.2)
            for child in children:
                if not stopping and child.process is not None and child.process.poll() is not None:
                    print(f"{child.name} exited with {child.process.returncode}; restarting", flush=True)
                    time.sleep(_RESTART_PAUSE)
                    child.start()
    finally:
        # The edge first (it stops accepting and finishes what it has, which needs the workers),
        # then the workers (each drains), then the servers (the caller's ExitStack).
        for child in reversed(children):
            child.stop(settings.drain_timeout + 5)
        print("loan-actors stopped", flush=True)
    return 0
