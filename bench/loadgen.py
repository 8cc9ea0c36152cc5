"""A bounded HTTP/1.1 load generator: asyncio (uvloop) over raw keep-alive sockets, loopback only.

closed loop: N connections, each sends its next request as soon as the previous answer is in;
             latency = answer received − request sent.
open loop:   requests are due at a fixed rate (t0 + i/rate) whatever the server does; N
             connections take them in order. Latency is measured from the *intended* send time, so
             a server that stalls is charged for the requests that queued behind the stall
             (coordinated omission, as wrk2 corrects it).

Requests are ready-made bytes, one per line of a file with CR LF written as TAB (bench.plan writes
them; wrk reads the same file). `reuse` cycles through them; otherwise each is sent once and the
run ends early when they run out (decisions need a fresh NEW loan each).

    python -m bench.loadgen SPEC.json      → one JSON object on stdout
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Spec:
    port: int
    requests_file: str
    host: str = "127.0.0.1"
    mode: str = "closed"  # or "open"
    connections: int = 32
    duration: float = 10.0
    rate: float = 100.0  # open loop only: requests per second
    reuse: bool = True
    timeout: float = 30.0


@dataclass
class Result:
    requests: int = 0
    errors: int = 0  # transport errors and timeouts
    statuses: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    latencies_ms: dict[str, float] = field(default_factory=dict)
    exhausted: bool = False
    late_sends: int = 0  # open loop: requests that waited for a free connection
    cpu_seconds: float = 0.0  # this generator's own CPU


def read_requests(path: str) -> list[bytes]:
    return [line.replace(b"\t", b"\r\n") for line in Path(path).read_bytes().split(b"\n") if line]


class Conn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        body = b""
        if at >= 0:
            end = lower.index(b"\r\n", at + 2)
            body = await self.reader.readexactly(int(lower[at + 17 : end]))
        elif b"transfer-encoding: chunked" in lower:
            body = await self._chunks()
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append((await self.reader.readexactly(size + 2))[:-2])
            if size == 0:
                return b"".join(parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    s = sorted(samples)
    n = len(s)

    def at(q: float) -> float:
        return round(s[min(n - 1, int(q * n))] * 1000, 3)

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p99.9": at(0.999),
        "max": round(s[-1] * 1000, 3),
        "mean": round(sum(s) / n * 1000, 3),
    }


class Run:
    def __init__(self, spec: Spec) -> None:
        if spec.host not in LOOPBACK:
            raise SystemExit(f"loadgen: {spec.host} is not a loopback address")
        self.spec = spec
        requests = read_requests(spec.requests_file)
        if not requests:
            raise SystemExit("loadgen: no requests")
        self.source: Iterator[bytes] = itertools.cycle(requests) if spec.reuse else iter(requests)
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self.exhausted = False
        self.late = 0

    def next_request(self) -> bytes | None:
        req = next(self.source, None)
        if req is None:
            self.exhausted = True
        return req

    async def _send(self, conn: Conn, request: bytes, since: float) -> None:
        try:
            status, _ = await asyncio.wait_for(conn.call(request), self.spec.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            self.errors += 1
            conn.close()
            return
        self.latencies.append(time.perf_counter() - since)
        self.statuses[status] += 1

    async def closed(self) -> None:
        end = time.perf_counter() + self.spec.duration

        async def worker() -> None:
            conn = Conn(self.spec.host, self.spec.port)
            try:
                while time.perf_counter() < end:
                    req = self.next_request()
                    if req is None:
                        return
                    await self._send(conn, req, time.perf_counter())
            finally:
                conn.close()

        await asyncio.gather(*(worker() for _ in range(self.spec.connections)))

    async def open(self) -> None:
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        rate, duration = self.spec.rate, self.spec.duration

        async def dispatch() -> None:
            t0 = time.perf_counter()
            for i in itertools.count():
                due = t0 + i / rate
                if due >= t0 + duration:
                    break
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                req = self.next_request()
                if req is None:
                    break
                if queue.qsize() > 0:
                    self.late += 1
                queue.put_nowait((due, req))
            for _ in range(self.spec.connections):
                queue.put_nowait(None)

        async def worker() -> None:
            conn = Conn(self.spec.host, self.spec.port)
            try:
                while (item := await queue.get()) is not None:
                    due, req = item
                    await self._send(conn, req, due)
            finally:
                conn.close()

        await asyncio.gather(dispatch(), *(worker() for _ in range(self.spec.connections)))

    async def go(self) -> Result:
        started = time.perf_counter()
        await (self.open() if self.spec.mode == "open" else self.closed())
        elapsed = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return Result(
            requests=len(self.latencies),
            errors=self.errors + sum(n for status, n in self.statuses.items() if status >= 400),
            statuses={str(k): v for k, v in sorted(self.statuses.items())},
            elapsed=round(elapsed, 3),
            latencies_ms=_percentiles(self.latencies),
            exhausted=self.exhausted,
            late_sends=self.late,
            cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
        )


async def probe(port: int, request: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body)."""
    conn = Conn("127.0.0.1", port)
    try:
        return await asyncio.wait_for(conn.call(request), timeout)
    finally:
        conn.close()


def main() -> None:
    spec = Spec(**json.loads(Path(sys.argv[1]).read_text()))
    loop_factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(Run(spec).go())
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
