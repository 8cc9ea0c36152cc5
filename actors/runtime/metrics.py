"""A worker's Prometheus metrics, in one registry per worker (tests run several in one process).

Requests are counted as they are answered (`observe`, called by serving.py). The rest is read
when Prometheus scrapes (`refresh`): the outbox, the durable consumers' lag, the dead letters, the
pool, the connection and the actor's own gauges (`Actor.gauge`). Reading then, rather than on a
timer, keeps every value as fresh as the scrape and costs nothing between scrapes; each source is
bounded by a timeout, so a database that hangs leaves its gauges stale, never the scrape hung.
Names follow edge/metrics.py: `loans_actor_*`, base units, no unbounded label (never a loan id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger("actors.runtime.metrics")
# The edge's buckets (edge/metrics.py): one latency scale on every dashboard.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
READ_TIMEOUT = 2.0  # seconds one source may take during a scrape


@dataclass(frozen=True)
class GaugeReadout:
    """A gauge an actor reports about its own data, read at each scrape: `read(pool)` gives the
    value of each label set (label values in the order of `labels`)."""

    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[asyncpg.Pool], Awaitable[dict[tuple[str, ...], float]]]


@dataclass(frozen=True)
class Durable:
    """A durable consumer whose lag is reported: the stream it reads and its name."""

    stream: str
    name: str


class WorkerMetrics:
    def __init__(self, actor: str, concurrency: int) -> None:
        self.actor = actor
        self.registry = CollectorRegistry()
        r = self.registry
        labels = ("actor", "subject")
        self._requests = Counter(
            "loans_actor_requests", "Requests a worker answered, by subject", labels, registry=r
        )
        self._errors = Counter(
            "loans_actor_request_errors",
            "Requests answered with an error, by subject and status (4xx: refused, 5xx: failed)",
            (*labels, "status"),
            registry=r,
        )
        self._duration = Histogram(
            "loans_actor_request_duration_seconds",
            "Time from taking a request to answering it, by subject",
            labels,
            registry=r,
            buckets=BUCKETS,
        )
        gauge = _gauge_maker(r, actor)
        self.in_flight = gauge("loans_actor_requests_in_flight", "Requests being handled now")
        gauge("loans_actor_concurrency_limit", "Requests a worker handles at once").set(concurrency)
        self.outbox_rows = gauge("loans_actor_outbox_pending_rows", "Events committed, not yet published")
        self.outbox_age = gauge(
            "loans_actor_outbox_oldest_age_seconds", "Age of the oldest unpublished event (0: none)"
        )
        self.nats_connected = gauge("loans_actor_nats_connected", "1 while connected to NATS")
        self.pool_size = gauge("loans_actor_db_pool_connections", "Connections the pool holds")
        self.pool_in_use = gauge("loans_actor_db_pool_connections_in_use", "Connections lent out")
        self.pool_max = gauge("loans_actor_db_pool_max_connections", "The pool's upper bound")
        consumer = ("actor", "consumer")
        self.pending = Gauge(
            "loans_actor_consumer_pending_messages",
            "Messages of a durable consumer's stream not yet delivered (its lag)",
            consumer,
            registry=r,
        )
        self.ack_pending = Gauge(
            "loans_actor_consumer_ack_pending_messages",
            "Messages delivered to a durable consumer, not yet acknowledged",
            consumer,
            registry=r,
        )
        self.redelivered = Gauge(
            "loans_actor_consumer_redelivered_messages",
            "Messages of a durable consumer delivered more than once and not yet acknowledged",
            consumer,
            registry=r,
        )
        self.dead_letters = Gauge(
            "loans_dead_letter_messages",
            "Messages waiting in the dead-letter stream, by the subject they were first published on",
            ("subject",),
            registry=r,
        )
        self.dead_letters_total = gauge(
            "loans_dead_letter_stream_messages", "Messages waiting in the dead-letter stream, in all"
        )
        self._readouts: list[tuple[GaugeReadout, Gauge]] = []
        self._children: dict[str, tuple[Counter, Histogram]] = {}
        self._sources: list[Callable[[], Awaitable[None]]] = []

    def observe(self, subject: str, status: int, seconds: float) -> None:
        """One answered request (status as HTTP would say it: 200, 404, 503, …)."""
        if status >= 400:
            self._errors.labels(self.actor, subject, str(status)).inc()
        children = self._children.get(subject)
        if children is None:  # labels() validates and locks each call: keep the children
            children = self._children[subject] = (
                self._requests.labels(self.actor, subject),
                self._duration.labels(self.actor, subject),
            )
        children[0].inc()
        children[1].observe(seconds)

    def watch(
        self,
        *,
        nc: Client,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        schema: str,
        durables: list[Durable],
        dlq_stream: str,
        readouts: list[GaugeReadout],
        in_flight: Callable[[], int],
    ) -> None:
        """What `refresh` reads at each scrape."""
        self.in_flight.set_function(in_flight)
        self.nats_connected.set_function(lambda: 1.0 if nc.is_connected else 0.0)
        self.pool_size.set_function(pool.get_size)
        self.pool_in_use.set_function(lambda: pool.get_size() - pool.get_idle_size())
        self.pool_max.set_function(pool.get_max_size)
        for readout in readouts:
            labels = ("actor", *readout.labels)
            family = Gauge(readout.name, readout.help, labels, registry=self.registry)
            self._readouts.append((readout, family))
        self._sources = [
            lambda: self._read_outbox(pool, schema),
            *(lambda d=d: self._read_consumer(js, d) for d in durables),
            lambda: self._read_dead_letters(js, dlq_stream),
            *(lambda p=pair: self._read_readout(pool, *p) for pair in self._readouts),
        ]

    async def refresh(self) -> None:
        """Read every source once, concurrently; a source that fails keeps its last values."""
        results = await asyncio.gather(
            *(asyncio.wait_for(source(), READ_TIMEOUT) for source in self._sources), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                log.debug("a metrics source failed: %r", result)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def _read_outbox(self, pool: asyncpg.Pool, schema: str) -> None:
        row = await pool.fetchrow(
            f"""SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS age
                FROM {schema}.outbox"""
        )
        assert row is not None
        self.outbox_rows.set(row["n"])
        self.outbox_age.set(float(row["age"]))

    async def _read_consumer(self, js: JetStreamContext, durable: Durable) -> None:
        info = await js.consumer_info(durable.stream, durable.name)
        self.pending.labels(self.actor, durable.name).set(info.num_pending or 0)
        self.ack_pending.labels(self.actor, durable.name).set(info.num_ack_pending or 0)
        self.redelivered.labels(self.actor, durable.name).set(info.num_redelivered or 0)

    async def _read_dead_letters(self, js: JetStreamContext, stream: str) -> None:
        info = await js.stream_info(stream, subjects_filter=">")
        counts = info.state.subjects or {}
        self.dead_letters_total.set(info.state.messages)
        self.dead_letters.clear()  # a replayed letter's subject must not linger at its old count
        for subject, count in counts.items():
            self.dead_letters.labels(subject.removeprefix("dlq.")).set(count)

    async def _read_readout(self, pool: asyncpg.Pool, readout: GaugeReadout, family: Gauge) -> None:
        values = await readout.read(pool)
        family.clear()
        for label_values, value in values.items():
            family.labels(self.actor, *label_values).set(value)


def _gauge_maker(registry: CollectorRegistry, actor: str) -> Callable[[str, str], Gauge]:
    def make(name: str, help_text: str) -> Gauge:
        return Gauge(name, help_text, ("actor",), registry=registry).labels(actor)

    return make
