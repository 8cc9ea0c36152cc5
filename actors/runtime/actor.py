"""Declaring an actor: a named table of subjects → typed handlers, and of the events it emits
and consumes. `@actor.handle(subject, RequestStruct, roles=...)` registers a plain async function;
actors/runtime/serving.py answers the table on NATS. The table is inspectable, so subjects.md is
checked against it (tests/test_subjects.py)."""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec
from nats.aio.client import Client

from actors.bus.tokens import Caller, TokenVerifier
from actors.contracts.config import Settings
from actors.contracts.errors import Unauthenticated
from actors.runtime.consumers import BatchHandler, EventHandler, EventSubscription
from actors.runtime.metrics import GaugeReadout
from actors.runtime.periodic import Periodic, PeriodicTask
from actors.runtime.work_queue import WorkHandler, WorkSubscription

S = TypeVar("S")


@dataclass(slots=True)
class Context(Generic[S]):
    """What a handler may use besides its request: the actor's resources and the caller."""

    state: S
    pool: asyncpg.Pool
    nc: Client
    settings: Settings
    subject: str
    headers: Mapping[str, str]
    caller: Caller | None

    @property
    def user(self) -> Caller:
        """The authenticated caller (subjects with roles always have one)."""
        if self.caller is None:
            raise Unauthenticated("a bearer token is required")
        return self.caller


Handler = Callable[[Any, Context[S]], Awaitable[Any]]
GaugeReader = Callable[[asyncpg.Pool], Awaitable[dict[tuple[str, ...], float]]]


@dataclass(frozen=True, slots=True)
class Route(Generic[S]):
    subject: str
    request_type: type[Any]
    reply_type: Any
    handler: Handler[S]
    roles: frozenset[str] | None
    decoder: msgspec.json.Decoder[Any]
    summary: str


class Actor(Generic[S]):
    """A named set of subjects and the handlers that answer them."""

    def __init__(self, name: str, *, version: str = "0.1.0", description: str = "") -> None:
        self.name = name
        self.version = version
        self.description = description
        self.routes: dict[str, Route[S]] = {}
        self.subscriptions: list[EventSubscription[S]] = []
        self.publishes: dict[str, type[Any]] = {}  # event type → its data Struct
        self.work: list[WorkSubscription[S]] = []  # work queues (actors/runtime/work_queue.py)
        self.periodic: list[Periodic[S]] = []  # tasks every worker runs now and then
        self.gauges: list[GaugeReadout] = []  # read from its schema at each scrape of /metrics
        # Runs after the token is verified and before the role check: a token whose account is
        # gone is 401 on every subject, not 403 on some.
        self.account_check: Callable[[Caller, asyncpg.Pool], Awaitable[None]] | None = None

    def publishes_event(self, event_type: str, data_type: type[Any]) -> None:
        """Declare an event this actor emits (subjects.md is checked against these)."""
        if not event_type.startswith(f"{self.name}."):
            raise ValueError(f"{event_type!r} is outside the {self.name}.* events")
        self.publishes[event_type] = data_type

    def on_event(self, durable: str, pattern: str) -> Callable[[EventHandler[S]], EventHandler[S]]:
        """Register a durable consumer of the events matching `pattern` (e.g. "users.>")."""

        def register(fn: EventHandler[S]) -> EventHandler[S]:
            self.subscriptions.append(EventSubscription(durable=durable, pattern=pattern, handler=fn))
            return fn

        return register

    def on_events(self, durable: str, pattern: str) -> Callable[[BatchHandler[S]], BatchHandler[S]]:
        """Register a durable consumer like `on_event`, whose handler takes every fresh event of a
        fetched batch, in order, in one call (one event if the batch is being retried one by one)."""

        def register(fn: BatchHandler[S]) -> BatchHandler[S]:
            self.subscriptions.append(EventSubscription(durable=durable, pattern=pattern, batch_handler=fn))
            return fn

        return register

    def on_work(
        self, durable: str, topic: str, item_type: type[Any]
    ) -> Callable[[WorkHandler[S]], WorkHandler[S]]:
        """Register the handler `(item, con, state, settings)` of the work items on `<work_prefix>.<topic>`:
        every worker pulls from the durable `durable`; each item runs in one transaction."""
        if not topic.startswith(f"{self.name}."):
            raise ValueError(f"{topic!r} is outside the {self.name}.* work topics")

        def register(fn: WorkHandler[S]) -> WorkHandler[S]:
            self.work.append(WorkSubscription(durable=durable, topic=topic, item_type=item_type, handler=fn))
            return fn

        return register

    def every(
        self, name: str, period: Callable[[Settings], float | None]
    ) -> Callable[[PeriodicTask[S]], PeriodicTask[S]]:
        """Register a task `(pool, settings, state)` every worker runs `period(settings)` seconds
        apart (None: not in this deployment); see actors/runtime/periodic.py."""

        def register(fn: PeriodicTask[S]) -> PeriodicTask[S]:
            self.periodic.append(Periodic(name=name, period=period, task=fn))
            return fn

        return register

    def gauge(
        self, name: str, help_text: str, labels: tuple[str, ...] = ()
    ) -> Callable[[GaugeReader], GaugeReader]:
        """Register `read(pool)` → {label values: value}, a gauge each worker reports on /metrics
        (actors/runtime/metrics.py); the worker adds the `actor` label."""

        def register(fn: GaugeReader) -> GaugeReader:
            self.gauges.append(GaugeReadout(name=name, help=help_text, labels=labels, read=fn))
            return fn

        return register

    def handle(
        self,
        subject: str,
        request_type: type[Any],
        *,
        roles: frozenset[str] | set[str] | None = None,
    ) -> Callable[[Handler[S]], Handler[S]]:
        """Register a handler; `roles=None` means anyone may call, else a token with one of them."""
        if not subject.startswith(f"{self.name}."):
            raise ValueError(f"{subject!r} is outside the {self.name}.* subjects")
        if subject in self.routes:
            raise ValueError(f"{subject!r} is registered twice")

        def register(fn: Handler[S]) -> Handler[S]:
            self.routes[subject] = Route(
                subject=subject,
                request_type=request_type,
                reply_type=typing.get_type_hints(fn).get("return"),
                handler=fn,
                roles=frozenset(roles) if roles is not None else None,
                decoder=msgspec.json.Decoder(request_type),
                summary=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
            )
            return fn

        return register


# What a worker builds before it serves: the actor's state, and the verifier of its callers' tokens.
Build = Callable[[Settings, Client], Awaitable[tuple[Any, TokenVerifier]]]


@dataclass(frozen=True)
class Deployable:
    """An actor as ops/ starts it: its table, how a worker builds its state, and what must be done
    once per deployment before several workers start at once (the users actor makes its signing
    key there, so two workers never race to make two)."""

    actor: Actor[Any]
    build: Build
    prepare: Callable[[Settings], None] | None = None

    @property
    def name(self) -> str:
        return self.actor.name
