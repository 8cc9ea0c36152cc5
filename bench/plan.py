"""The scenarios and the ready-made requests each one sends (the same bytes to every architecture).

A request file holds one raw HTTP/1.1 request per line, CR LF written as TAB (JSON bodies from
msgspec hold no raw TAB or newline). Tokens are issued with the users actor's own key, so every
architecture verifies the same EdDSA tokens.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from actors.users.signing import SigningKey
from bench.data import PASSWORD, Shape, approved_loan_ids, bench_uuid, customer_email, new_loan_ids

_encode = msgspec.json.Encoder().encode
TOKEN_TTL = 24 * 3600
LIST = "/api/loan/list-loans-customer"
CREATE = "/api/loan/customer-loan"
DECIDE = "/api/loan/approve-reject-loan/"
LOGIN = "/api/user/login"
MIX = (("list", 8), ("create", 1), ("decide", 1))  # the mixed profile: 80 % reads, 20 % writes


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    mode: str = "closed"  # or "open" (fixed rate, Python generator)
    reuse: bool = True  # False: each request once (each decision needs a NEW loan of its own)
    login: bool = False  # uses the login connection count
    storm: bool = False  # a login storm (bcrypt) runs alongside, on the login connections


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("list", "GET list-loans-customer (20 newest)"),
        Scenario("create", "POST customer-loan (agent)"),
        Scenario("decide", "PUT approve-reject-loan (admin)", reuse=False),
        Scenario("login", "POST login (bcrypt cost 12)", login=True),
        Scenario("mixed", "mixed: 80% list, 10% create, 10% decide", reuse=False),
        Scenario("list-open", "GET list, open loop at a fixed rate", mode="open"),
        Scenario("storm", "GET list while a login storm runs alongside (closed loop)", storm=True),
    )
}


@dataclass(frozen=True)
class Variant:
    """loan-actors alone under the `list` load, in processes and a database of its own, for a target
    of issue 7 that compares it with itself: with tracing on, or with ten times the loans."""

    name: str
    title: str
    data: str = "base"  # "base": the run's own shape; "scale": --scale-loans over --scale-customers
    tracing: bool = False  # OTEL_TRACES_EXPORTER=console (batch span processor), stdout to a file
    sample: float | None = None  # OTEL_TRACES_SAMPLER=parentbased_traceidratio at this ratio (else all)


VARIANTS = {
    v.name: v
    for v in (
        Variant("base", "tracing off, the run's own data (what `traced` and `scale` are compared with)"),
        Variant(
            "traced",
            "tracing every request: batch span processor, console exporter, stdout to a file",
            tracing=True,
        ),
        Variant(
            "traced-0.1",
            "as `traced`, with OTEL_TRACES_SAMPLER=parentbased_traceidratio at 0.1",
            tracing=True,
            sample=0.1,
        ),
        Variant("scale", "tracing off, --scale-loans loans over --scale-customers customers", data="scale"),
    )
}


# Loan-actors alone (the direct app has no servicing), measured after the `base` variant in its
# processes: a repayment at a fixed rate, for its latency on a quiet system.
REPAY_OPEN = Scenario("repay-open", "POST a repayment (admin, 10.00), open loop at a fixed rate", mode="open")
REPAID_LOANS = (
    200  # approved loans of the seed the repayments cycle over (their accounts open in the warm-up)
)


def variants(scale: bool, tracing: bool, scale_out: bool = False) -> list[str]:
    """The variants to measure, in order: the reference first (the scale-out mode runs on its data)."""
    wanted = {"base": scale or tracing or scale_out, "traced": tracing, "traced-0.1": tracing, "scale": scale}
    return [name for name in VARIANTS if wanted[name]]


def http_request(method: str, path: str, token: str | None = None, body: bytes | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token is not None:
        head.append(f"Authorization: Bearer {token}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


def write_requests(path: Path, requests: Iterable[bytes]) -> int:
    n = 0
    with path.open("wb") as f:
        for req in requests:
            line = req.replace(b"\r\n", b"\t")
            assert b"\n" not in line
            f.write(line + b"\n")
            n += 1
    return n


class Requests:
    """Builds the request streams of every scenario from the seed's shape and the signing key."""

    def __init__(self, key: SigningKey, shape: Shape) -> None:
        self.shape = shape
        n_customers = min(shape.customers, 1000)
        self.customer_tokens = [
            key.issue(bench_uuid("customer", i), "customer", TOKEN_TTL) for i in range(n_customers)
        ]
        self.agent_tokens = [
            key.issue(bench_uuid("agent", i), "agent", TOKEN_TTL) for i in range(shape.agents)
        ]
        self.admin_token = key.issue(bench_uuid("admin", 0), "admin", TOKEN_TTL)
        self.new_ids = new_loan_ids(shape.loans)

    def lists(self) -> Iterator[bytes]:
        for token in itertools.cycle(self.customer_tokens):
            yield http_request("GET", LIST, token)

    def creates(self) -> Iterator[bytes]:
        principals = ("50000", "250000.50", "1500000", "3000000")
        for i in itertools.count():
            body = {
                "customer_id": str(bench_uuid("customer", (i * 7) % self.shape.customers)),
                "principal": principals[i % len(principals)],
                "months": 12 * (1 + i % 10),
            }
            yield http_request("POST", CREATE, self.agent_tokens[i % len(self.agent_tokens)], _encode(body))

    def decides(self, ids: Iterable[uuid.UUID]) -> Iterator[bytes]:
        for i, loan_id in enumerate(ids):
            body = _encode({"status": "APPROVED" if i % 3 else "REJECTED"})
            yield http_request("PUT", f"{DECIDE}{loan_id}", self.admin_token, body)

    def repayments(self) -> Iterator[bytes]:
        loans = approved_loan_ids(self.shape.loans)[:REPAID_LOANS]
        body = _encode({"amount": "10.00"})
        for loan_id in itertools.cycle(loans):
            yield http_request("POST", f"/api/loan/{loan_id}/repayments", self.admin_token, body)

    def logins(self) -> Iterator[bytes]:
        for i in itertools.cycle(range(min(self.shape.customers, 200))):
            yield http_request(
                "POST", LOGIN, body=_encode({"email": customer_email(i), "password": PASSWORD})
            )

    def mixed(self, ids: Iterable[uuid.UUID]) -> Iterator[bytes]:
        streams = {"list": self.lists(), "create": self.creates(), "decide": self.decides(ids)}
        for name in itertools.cycle(spread(MIX)):
            req = next(streams[name], None)
            if req is None:
                return
            yield req


def spread(weights: Iterable[tuple[str, int]]) -> list[str]:
    """One cycle of a smooth weighted round robin: list, list, create, list, … not 8 lists in a row."""
    weights = list(weights)
    total = sum(w for _, w in weights)
    current = dict.fromkeys((n for n, _ in weights), 0)
    out = []
    for _ in range(total):
        for name, weight in weights:
            current[name] += weight
        best = max(current, key=lambda n: current[n])
        current[best] -= total
        out.append(best)
    return out


@dataclass
class Files:
    """Request files for one scenario: a short warm-up one and the measured one."""

    warmup: Path
    measured: Path
    reuse: bool
    companion: Path | None = None  # the storm's logins


def build_files(
    req: Requests, directory: Path, names: Iterable[str], duration: float, warmup: float
) -> dict[str, Files]:
    """Write the request files; decisions get disjoint slices of the NEW loans (the same slices in
    every architecture's database, which are copies of one seed)."""
    ids = req.new_ids
    cut = [int(len(ids) * f) for f in (0.0, 0.05, 0.60, 0.65, 1.0)]
    slices = {
        ("decide", "warmup"): ids[cut[0] : cut[1]],
        ("decide", "measured"): ids[cut[1] : cut[2]],
        ("mixed", "warmup"): ids[cut[2] : cut[3]],
        ("mixed", "measured"): ids[cut[3] : cut[4]],
    }
    # more requests than this box can answer in the time given
    caps = {"warmup": int(5000 * max(warmup, 1.0)), "measured": int(5000 * max(duration, 1.0))}
    out: dict[str, Files] = {}
    for name in names:
        paths = {}
        for phase in ("warmup", "measured"):
            path = directory / f"{name}-{phase}.req"
            if name in ("list", "list-open", "storm"):
                stream: Iterator[bytes] = itertools.islice(req.lists(), 1000)
            elif name == "create":
                stream = itertools.islice(req.creates(), 1000)
            elif name == REPAY_OPEN.name:
                stream = itertools.islice(req.repayments(), 1000)
            elif name == "login":
                stream = itertools.islice(req.logins(), 200)
            elif name == "decide":
                stream = itertools.islice(req.decides(slices[("decide", phase)]), caps[phase])
            elif name == "mixed":
                stream = itertools.islice(req.mixed(slices[("mixed", phase)]), caps[phase])
            else:
                raise ValueError(f"unknown scenario {name!r}")
            write_requests(path, stream)
            paths[phase] = path
        scenario = SCENARIOS.get(name, REPAY_OPEN)
        out[name] = Files(paths["warmup"], paths["measured"], scenario.reuse)
        if scenario.storm:
            companion = out[name].companion = directory / f"{name}-logins.req"
            write_requests(companion, itertools.islice(req.logins(), 200))
    return out
