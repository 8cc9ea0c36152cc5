"""Settings: every `LOANS_*` environment variable, parsed once into one frozen Struct."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

PREFIX = "LOANS_"
REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(Exception):
    """A `LOANS_*` variable holds a value the process cannot run with."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    nats_url: str | None = None
    nats_user: str | None = None  # each component its own user (deploy/nats-server.conf)
    nats_password: str | None = None
    # A CA file (PEM) that signed the NATS servers' certificates: LOANS_NATS_URL then uses tls://
    # (deploy/nats-cluster.conf). Unset: the system's trust store, for a tls:// URL.
    nats_tls_ca: str | None = None
    database_url: str | None = None
    # One actor's schema on a server of its own: LOANS_<ACTOR>_DATABASE_URL (e.g. LOANS_LOANS_DATABASE_URL).
    actor_database_urls: dict[str, str] = {}
    data_dir: str = ".loans"
    migrations_dir: str = str(REPO_ROOT / "db")
    # Postgres roles are cluster-wide: the prefix keeps deployments (and test runs) apart.
    db_role_prefix: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,40}$")] = "loans_"
    # Each actor's role its own password: LOANS_<ACTOR>_DB_PASSWORD (e.g. LOANS_LOANS_DB_PASSWORD),
    # set on the role by `loans migrate` and used by that actor's workers alone (issue 12 M4).
    actor_db_passwords: dict[str, str] = {}
    db_role_password: str | None = None  # older: one password for every role, where none of its own
    db_pool_min: Annotated[int, msgspec.Meta(ge=1, le=100)] = 2
    db_pool_max: Annotated[int, msgspec.Meta(ge=1, le=200)] = 10
    # Seconds one statement of an actor's role may run before Postgres cancels it (the role's
    # default, set by `loans migrate`, and each pool's session): a runaway query frees its connection.
    db_statement_timeout: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    bcrypt_cost: Annotated[int, msgspec.Meta(ge=4, le=31)] = 12
    bcrypt_threads: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    # Hashes one users worker holds (running and waiting) before it answers 503 with Retry-After at
    # once; 0 = as many as its threads can hash within request_timeout (actors/users/passwords.py).
    bcrypt_queue: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 0
    jwt_private_key_file: str | None = None
    jwt_ttl_seconds: Annotated[int, msgspec.Meta(ge=60, le=86_400)] = 3600
    # Every verifier of tokens (the edge, every actor but users) fetches the users actor's JWKS
    # again this often (a rotation's new kid, a retired one gone) and catches up on revocations.
    jwks_refresh_seconds: Annotated[float, msgspec.Meta(ge=1, le=86_400)] = 300.0
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 64
    request_timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 5.0
    drain_timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    # SO_REUSEPORT on the edge's socket: several edges on one host share its port, the kernel
    # spreading connections over them (how one machine scales the edge without a proxy).
    http_reuse_port: bool = False
    # Each worker's /metrics, /health and /ready (actors/runtime/probe_server.py); port 0 = a free
    # one (`loans up` gives each worker its own and lists them for Prometheus). The edge serves
    # its /metrics on its HTTP port. 0.0.0.0 where a scraper or prober is on another host (a pod).
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 65_536
    # Logins (edge/ratelimit.py): attempts per (client address, email) in a sliding minute, counted
    # when admitted and given back unless the password was wrong; and per account (the email as the
    # database folds it) from every address but those the account last logged in from.
    login_attempts_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 30
    login_account_attempts_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 100
    # Signups per client address (a token bucket holding a minute's worth); 0 = off.
    signups_per_minute: Annotated[int, msgspec.Meta(ge=0)] = 20
    # Proxies whose X-Forwarded-For the edge believes: addresses or CIDRs, comma-separated; none
    # by default, so the TCP peer is the client (edge/client_address.py).
    trusted_proxies: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Fa-f:./,\s]*$")] = ""
    # The edge's general limit per client address (a token bucket holding a minute's worth); 0 = off.
    requests_per_minute: Annotated[int, msgspec.Meta(ge=0)] = 6000
    # Edge retries (reads and keyed writes; no-responders, timeouts, bus down; within request_timeout):
    # attempts in all, the first back-off (doubling, jittered, capped) and how long one attempt may
    # wait before another replica gets the request (a worker killed mid-request never answers).
    retry_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    retry_backoff: Annotated[float, msgspec.Meta(ge=0, le=10)] = 0.05
    retry_backoff_max: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.5
    attempt_timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 2.0
    # The edge's circuit breaker per subject: opens after this many failures in a row (no-responders,
    # timeouts), answers 503 at once, and lets one probe through after the cool-down (seconds).
    circuit_failures: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 5
    circuit_cooldown: Annotated[float, msgspec.Meta(gt=0, le=600)] = 5.0
    # Event subjects are `<events_prefix>.<actor>.<entity>.<verb>`; another prefix gives another
    # stream, so test runs sharing one NATS server never see each other's events.
    events_prefix: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")] = "events"
    # Copies of the events streams kept by a NATS cluster (3 on a three-node cluster: any one node
    # may go down; deploy/nats-cluster.conf). One server holds one copy.
    events_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    event_max_deliver: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    event_ack_wait: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    outbox_poll_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 2.0
    # How often a worker deletes its schema's expired idempotency answers (they live 24 hours).
    idempotency_sweep_seconds: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 600.0
    # Servicing (design.md §11): close of business runs by itself once the UTC date has passed
    # the business date; an admin may run it up to a date, after today's only if allowed here
    # (demos and tests travel in time). A run is cut into batches of this many accounts.
    cob_auto: bool = True
    cob_auto_check_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    allow_future_business_date: bool = False
    cob_batch_size: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    due_reminder_days: Annotated[int, msgspec.Meta(ge=0, le=60)] = 3
    # Notifications by mail (design.md §12): the SMTP server the users workers' mailer sends through
    # (smtp://host:port, smtps:// for TLS from the start, user:password@ if it wants a login); none:
    # notifications are only recorded and listed. `loans up` runs a local sink unless this is set.
    smtp_url: Annotated[str, msgspec.Meta(pattern=r"^smtps?://[^/\s]+/?$")] | None = None
    mail_from: Annotated[str, msgspec.Meta(min_length=3, max_length=254)] = (
        "Loan Actors <no-reply@loans.localhost>"
    )

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    def database_url_for(self, actor: str) -> str:
        """The server an actor's schema lives on: its own URL if set, else the shared one."""
        url = self.actor_database_urls.get(actor) or self.database_url
        if url is None:
            raise ConfigError(f"{PREFIX}DATABASE_URL is not set (nor {PREFIX}{actor.upper()}_DATABASE_URL)")
        return url

    def role_for(self, actor: str) -> str:
        return f"{self.db_role_prefix}{actor}"

    def db_password_for(self, actor: str) -> str | None:
        """The password of `actor`'s role: its own, else the older shared one, else none (a server
        that trusts its clients)."""
        return self.actor_db_passwords.get(actor) or self.db_role_password

    @property
    def events_stream(self) -> str:
        suffix = "" if self.events_prefix == "events" else "_" + self.events_prefix.replace(".", "_").upper()
        return f"EVENTS{suffix}"

    @property
    def dlq_stream(self) -> str:
        return f"{self.events_stream}_DLQ"

    @property
    def work_prefix(self) -> str:
        """Subjects of the work queues (COB batches): outside `<events_prefix>.>`, so the events
        stream never holds a work item."""
        return f"work.{self.events_prefix}"

    @property
    def work_stream(self) -> str:
        return f"{self.events_stream}_WORK"

    def require_nats_url(self) -> str:
        if self.nats_url is None:
            raise ConfigError(f"{PREFIX}NATS_URL is not set")
        return self.nats_url


_FIELDS = set(Settings.__struct_fields__) - {"actor_database_urls", "actor_db_passwords"}
# LOANS_TEST_DATABASE_URL is the test suite's server, not an actor's
_ACTOR_DATABASE_URL = re.compile(rf"^{PREFIX}(?!TEST_)([A-Z][A-Z0-9]*)_DATABASE_URL$")
_ACTOR_DB_PASSWORD = re.compile(rf"^{PREFIX}(?!TEST_)([A-Z][A-Z0-9]*)_DB_PASSWORD$")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read `LOANS_*` variables; a bad value raises ConfigError naming the variable."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    own_urls: dict[str, str] = {}
    own_passwords: dict[str, str] = {}
    for key, value in env.items():
        if (own := _ACTOR_DATABASE_URL.match(key)) and value != "":
            own_urls[own.group(1).lower()] = value
        elif (own := _ACTOR_DB_PASSWORD.match(key)) and value != "":
            own_passwords[own.group(1).lower()] = value
        elif key.startswith(PREFIX):
            name = key[len(PREFIX) :].lower()
            if name in _FIELDS and value != "":
                raw[name] = value
    if own_urls:
        raw["actor_database_urls"] = own_urls
    if own_passwords:
        raw["actor_db_passwords"] = own_passwords
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_name_variable(str(exc))) from None


def _name_variable(message: str) -> str:
    # msgspec says "... - at `$.bcrypt_cost`": point at the variable the operator actually set.
    if "`$." in message:
        head, _, tail = message.partition("`$.")
        field = tail.split("`", 1)[0]
        return f"{PREFIX}{field.upper()}: {head.removesuffix(' - at ').rstrip(' -')}"
    return message


def to_environ(settings: Settings) -> dict[str, str]:
    """The variables that give a child process these same settings."""
    fields = msgspec.structs.asdict(settings)
    own_urls: dict[str, str] = fields.pop("actor_database_urls")
    own_passwords: dict[str, str] = fields.pop("actor_db_passwords")
    environ = {f"{PREFIX}{name.upper()}": str(value) for name, value in fields.items() if value is not None}
    environ.update({f"{PREFIX}{actor.upper()}_DATABASE_URL": url for actor, url in own_urls.items()})
    environ.update({f"{PREFIX}{actor.upper()}_DB_PASSWORD": pw for actor, pw in own_passwords.items()})
    return environ
