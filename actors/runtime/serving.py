"""The actor runtime: a table of subjects → typed handlers, served as NATS micro endpoints.

An actor declares `@actor.handle(subject, RequestStruct, roles=...)` on plain async functions.
`Actor.serve` subscribes each subject in the actor's queue group and, per message: checks the
deadline, verifies the bearer token and role, decodes the body with msgspec, runs the handler
(bounded by the worker's concurrency), and answers with the reply Struct as JSON or with a micro
error reply. Nothing a caller sends can crash the worker. `ServingActor.drain` stops taking
requests, lets in-flight ones finish, then stops.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.trace import Span

from actors.bus.connection import is_inbox, settled
from actors.bus.tokens import TokenVerifier
from actors.contracts.config import Settings
from actors.contracts.errors import (
    ActorError,
    BadRequest,
    DeadlineExceeded,
    Forbidden,
    Replay,
    Unavailable,
)
from actors.contracts.headers import AUTHORIZATION_HEADER, DEADLINE_HEADER, ERROR_CODE_HEADER, ERROR_HEADER
from actors.runtime.actor import Actor, Context, Route
from actors.runtime.db import DB_DOWN
from actors.runtime.micro import EndpointCounters, MicroService
from otel import spans
from otel.setup import enabled as tracing

log = logging.getLogger("actors.runtime.serving")

S = TypeVar("S")

_encoder = msgspec.json.Encoder()


@dataclass
class ServingActor(Generic[S]):
    """One replica of an actor, subscribed and answering."""

    actor: Actor[S]
    nc: Client
    pool: asyncpg.Pool
    state: S
    settings: Settings
    verifier: TokenVerifier
    # Told of every answered request: (subject, status as HTTP says it, seconds); the worker's metrics.
    observer: Callable[[str, int, float], None] | None = None
    micro: MicroService = field(init=False)
    _subs: list[Subscription] = field(default_factory=list)
    _inflight: set[asyncio.Task[None]] = field(default_factory=set)
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self.micro = MicroService(
            nc=self.nc,
            name=self.actor.name,
            version=self.actor.version,
            description=self.actor.description,
            queue_group=self.actor.name,
        )

    async def start(self) -> None:
        for subject, route in self.actor.routes.items():
            counters = self.micro.endpoints.setdefault(subject, EndpointCounters())
            self._subs.append(
                await self.nc.subscribe(subject, queue=self.actor.name, cb=self._dispatcher(route, counters))
            )
        await self.micro.start()
        await settled(self.nc)  # subscribed on the server: a request sent from now on is served

    def _dispatcher(self, route: Route[S], counters: EndpointCounters) -> Callable[[Msg], Awaitable[None]]:
        async def dispatch(msg: Msg) -> None:
            # Waiting for a slot here holds back this subscription: NATS buffers the rest.
            await self._slots.acquire()
            task = asyncio.create_task(self._run(route, counters, msg))
            self._inflight.add(task)
            task.add_done_callback(self._finished)

        return dispatch

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _run(self, route: Route[S], counters: EndpointCounters, msg: Msg) -> None:
        if not tracing():
            await self._serve(route, counters, msg, None)
            return
        with spans.nats_server(route.subject, self.actor.name, msg.headers) as span:
            await self._serve(route, counters, msg, span)

    async def _serve(self, route: Route[S], counters: EndpointCounters, msg: Msg, span: Span | None) -> None:
        started = time.perf_counter_ns()
        headers = msg.headers or {}
        error: str | None = None
        status = 200
        if msg.reply and not is_inbox(msg.reply):
            # Do none of the work: its answer would go where the requester pointed it (M1).
            log.warning(
                "%s: request dropped: reply subject %r is not an inbox", route.subject, msg.reply[:200]
            )
            counters.record(started, "reply subject is not an inbox")
            return
        try:
            remaining = _time_left(headers)
            if remaining is not None and remaining <= 0:
                error, status = "deadline passed before the request started", 504
                if span is not None:
                    spans.failed(span, 504, None, error)
                return  # the caller has given up already: nobody is listening for the answer
            async with asyncio.timeout(remaining):
                reply = await self._answer(route, msg, headers, span)
            await reply_to(self.nc, msg, reply)
        except Replay as replay:  # answered before under this Idempotency-Key: the same answer again
            await reply_to(self.nc, msg, replay.reply)
        except ActorError as exc:
            status = exc.status
            if exc.status >= 500:
                error = f"{exc.status} {exc.code}"
            if span is not None:
                _trace_error(span, exc)
            await _respond_error(self.nc, msg, exc)
        except TimeoutError as exc:
            error, status = "deadline exceeded", 504
            if span is not None:
                spans.failed(span, 504, exc, error)
            await _respond_error(self.nc, msg, DeadlineExceeded("the request ran past its deadline"))
        except DB_DOWN as exc:
            error, status = f"database unavailable: {type(exc).__name__}", 503
            log.warning("%s: database unavailable: %r", route.subject, exc)
            if span is not None:
                spans.failed(span, 503, exc, error)
            await _respond_error(self.nc, msg, Unavailable("the service is temporarily unavailable"))
        except Exception as exc:
            error, status = f"internal error: {type(exc).__name__}", 500
            log.exception("%s: unexpected error", route.subject)
            if span is not None:
                spans.failed(span, 500, exc, error)
            await _respond_error(self.nc, msg, ActorError(500, "internal_error", "internal error"))
        finally:
            counters.record(started, error)
            if self.observer is not None:
                self.observer(route.subject, status, (time.perf_counter_ns() - started) / 1e9)

    async def _answer(
        self, route: Route[S], msg: Msg, headers: Mapping[str, str], span: Span | None
    ) -> bytes:
        caller = None
        if route.roles is not None:
            caller = await self.verifier.verify_header(headers.get(AUTHORIZATION_HEADER))
            if span is not None:
                span.set_attribute("loans.caller.role", caller.role)
            if self.actor.account_check is not None:
                await self.actor.account_check(caller, self.pool)
            if caller.role not in route.roles:
                raise Forbidden("your role may not do this")
        request = decode_request(route, msg.data)
        ctx = Context(
            state=self.state,
            pool=self.pool,
            nc=self.nc,
            settings=self.settings,
            subject=route.subject,
            headers=headers,
            caller=caller,
        )
        result = await route.handler(request, ctx)
        if isinstance(result, bytes):
            return result
        return _encoder.encode(result)

    async def drain(self, grace: float | None = None) -> None:
        """Stop taking requests, let in-flight ones finish (up to `grace` seconds), then stop."""
        for sub in self._subs:
            try:
                await sub.drain()  # type: ignore[no-untyped-call]
            except Exception:  # the connection may be gone already; carry on stopping
                log.debug("drain of %s failed", sub.subject, exc_info=True)
        self._subs.clear()
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace or self.settings.drain_timeout)
            for task in pending:
                task.cancel()
        await self.micro.stop()


def decode_request(route: Route[Any], data: bytes) -> Any:
    """Decode a request body; a failure is a 400 naming the field at fault."""
    if b"\\u0000" in data:  # Postgres cannot store NUL in text: refuse it as the bad input it is
        raise BadRequest("text must not contain the NUL character (\\u0000)")
    try:
        return route.decoder.decode(data or b"{}")
    except msgspec.ValidationError as exc:
        reason, field_name = _explain(str(exc))
        message = f"{field_name}: {reason}" if field_name else reason
        raise BadRequest(message, details={"field": field_name} if field_name else None) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    except RecursionError:  # msgspec recurses per nesting level: 2 KB of `[` is bad input, not a 500
        raise BadRequest("the body is nested too deeply") from None


def _explain(text: str) -> tuple[str, str | None]:
    """msgspec's "Expected `int`, got `str` - at `$.a.b`" → ("Expected `int`, got `str`", "a.b")."""
    reason, _, where = text.partition(" - at `$")
    path = where.rstrip("`").lstrip(".") or None
    missing = re.match(r"Object missing required field `([^`]+)`", reason)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        reason = "this field is required"
    return reason, path


def _time_left(headers: Mapping[str, str]) -> float | None:
    raw = headers.get(DEADLINE_HEADER)
    if not raw:
        return None
    try:
        return int(raw) / 1000 - time.time()
    except ValueError:
        return None


def _trace_error(span: Span, exc: ActorError) -> None:
    if exc.status < 500:
        spans.refused(span, exc.status, exc.code)
    else:
        spans.failed(span, exc.status, exc, exc.code)


# What an error may echo of the caller's input: a message or detail quoting a 900 KB principal
# would make the reply (body + header) larger than NATS' max payload, and it would never arrive.
ECHO_CHARS = 500


def bounded(text: str, limit: int = ECHO_CHARS) -> str:
    """`text`, cut to `limit` characters (with a mark saying it was cut)."""
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


def _bounded_details(details: Any) -> Any:
    """`details` with every string in it (keys too) bounded; other values as they are."""
    if isinstance(details, str):
        return bounded(details)
    if isinstance(details, dict):
        return {bounded(str(k)): _bounded_details(v) for k, v in list(details.items())[:50]}
    if isinstance(details, list | tuple):
        return [_bounded_details(v) for v in details[:50]]
    return details


def error_body(exc: ActorError) -> bytes:
    return _encoder.encode(
        {"code": exc.code, "message": bounded(exc.message), "details": _bounded_details(exc.details)}
    )


async def reply_to(nc: Client, msg: Msg, data: bytes, headers: dict[str, str] | None = None) -> None:
    # Not `msg.respond`: nats-py's respond() echoes the *request's* headers into the reply,
    # which would hand the caller's Authorization header back to whoever listens on the inbox.
    # Only to an inbox: `_serve` has refused the rest already; this guards every other caller.
    if msg.reply and is_inbox(msg.reply):
        await nc.publish(msg.reply, data, headers=headers)


async def _respond_error(nc: Client, msg: Msg, exc: ActorError) -> None:
    # header values must stay on one line
    description = bounded(exc.message).replace("\r", " ").replace("\n", " ")
    await reply_to(nc, msg, error_body(exc), {ERROR_CODE_HEADER: str(exc.status), ERROR_HEADER: description})


async def serve(
    actor: Actor[S],
    *,
    nc: Client,
    pool: asyncpg.Pool,
    state: S,
    settings: Settings,
    verifier: TokenVerifier,
    observer: Callable[[str, int, float], None] | None = None,
) -> ServingActor[S]:
    """Subscribe `actor`'s subjects in its queue group and start answering them."""
    serving = ServingActor(actor, nc, pool, state, settings, verifier, observer)
    await serving.start()
    return serving
