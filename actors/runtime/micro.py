"""The NATS micro protocol ($SRV.PING / INFO / STATS) over endpoints we dispatch ourselves.

`nats.micro` runs one request at a time per endpoint and unsubscribes (rather than drains) on
stop, so the runtime keeps the protocol's discovery and statistics here and does the dispatching
itself. The reply shapes are nats.micro's own dataclasses, so standard NATS tooling reads them.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.micro.service import (
    EndpointInfo,
    EndpointStats,
    ServiceInfo,
    ServicePing,
    ServiceStats,
)

from actors.bus.connection import is_inbox

API_PREFIX = "$SRV"
log = logging.getLogger("actors.runtime.micro")


@dataclass
class EndpointCounters:
    """Request, error and time totals for one endpoint of one replica."""

    num_requests: int = 0
    num_errors: int = 0
    processing_time_ns: int = 0
    last_error: str = ""

    def record(self, started_ns: int, error: str | None) -> None:
        self.num_requests += 1
        self.processing_time_ns += time.perf_counter_ns() - started_ns
        if error is not None:
            self.num_errors += 1
            self.last_error = error


@dataclass
class MicroService:
    """Answers $SRV.PING/INFO/STATS for one replica of a named service."""

    nc: Client
    name: str
    version: str
    description: str
    queue_group: str
    endpoints: dict[str, EndpointCounters] = field(default_factory=dict)
    id: str = ""
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    _subs: list[Subscription] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = self.nc._nuid.next().decode()

    async def start(self) -> None:
        handlers = {"PING": self._ping, "INFO": self._info, "STATS": self._stats}
        for verb, handler in handlers.items():
            for subject in (
                f"{API_PREFIX}.{verb}",
                f"{API_PREFIX}.{verb}.{self.name}",
                f"{API_PREFIX}.{verb}.{self.name}.{self.id}",
            ):
                self._subs.append(await self.nc.subscribe(subject, cb=handler))

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()

    def stats(self) -> ServiceStats:
        return ServiceStats(
            id=self.id,
            name=self.name,
            version=self.version,
            started=self.started.replace(tzinfo=None),
            endpoints=[
                EndpointStats(
                    name=_endpoint_name(subject),
                    subject=subject,
                    queue_group=self.queue_group,
                    num_requests=c.num_requests,
                    num_errors=c.num_errors,
                    last_error=c.last_error,
                    processing_time=c.processing_time_ns,
                    average_processing_time=c.processing_time_ns // c.num_requests if c.num_requests else 0,
                )
                for subject, c in self.endpoints.items()
            ],
        )

    def info(self) -> ServiceInfo:
        return ServiceInfo(
            id=self.id,
            name=self.name,
            version=self.version,
            description=self.description,
            endpoints=[
                EndpointInfo(name=_endpoint_name(s), subject=s, queue_group=self.queue_group)
                for s in self.endpoints
            ],
        )

    async def _reply(self, msg: Msg, body: dict[str, Any]) -> None:
        await _reply_json(self.nc, msg, body)

    async def _ping(self, msg: Msg) -> None:
        ping = ServicePing(id=self.id, name=self.name, version=self.version)
        await self._reply(msg, ping.to_dict())

    async def _info(self, msg: Msg) -> None:
        await self._reply(msg, self.info().to_dict())

    async def _stats(self, msg: Msg) -> None:
        await self._reply(msg, stats_body(self.stats()))


def stats_body(stats: ServiceStats) -> dict[str, Any]:
    """The STATS reply without the endpoints' `"data": null` that nats.micro writes: the micro v1
    schema (nats-io/jsm.go) allows `data` only as an object, so standard tools refused the reply."""
    body = stats.to_dict()
    for endpoint in body["endpoints"]:
        if endpoint.get("data") is None:
            endpoint.pop("data", None)
    return body


async def _reply_json(nc: Client, msg: Msg, body: dict[str, Any]) -> None:
    # publish, not msg.respond(): respond() echoes the request's headers back
    if not msg.reply:
        return
    if not is_inbox(msg.reply):  # answer only an inbox, never where a requester points (M1)
        log.warning("%s: request dropped: reply subject %r is not an inbox", msg.subject, msg.reply[:200])
        return
    await nc.publish(msg.reply, json.dumps(body).encode())


def _endpoint_name(subject: str) -> str:
    # micro endpoint names allow only [A-Za-z0-9_-]
    return subject.replace(".", "-")
