"""The classic gateway in miniature: verify the JWT, then proxy over HTTP to a service process.

The service is bench.direct_app in `--mode service` (same SQL, trusts the identity headers this
gateway adds). The client is pooled and kept alive: aiohttp when installed (the faster of the two
for a proxy), else httpx.AsyncClient; `--client` picks one.

    python -m bench.http_hop --port 9002 --upstream http://127.0.0.1:9003
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, get, route
from litestar.datastructures import State

from actors.bus.tokens import TokenVerifier
from actors.contracts.config import load_settings
from actors.contracts.errors import ActorError
from actors.users.service import key_path
from actors.users.signing import load_or_create
from bench.direct_app import ROLE_HEADER, USER_ID_HEADER, _error
from edge.server import uvicorn_config

PUBLIC = frozenset({"/api/user/login"})
POOL_SIZE = 100  # connections kept to the service: more than the bench's client connections
# (method, url, body, headers) -> (status, body)
Send = Callable[[str, str, bytes, dict[str, str]], Awaitable[tuple[int, bytes]]]


@contextlib.asynccontextmanager
async def aiohttp_client() -> AsyncIterator[Send]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=POOL_SIZE, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def send(method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            async with session.request(method, url, data=body or None, headers=headers) as resp:
                return resp.status, await resp.read()

        yield send


@contextlib.asynccontextmanager
async def httpx_client() -> AsyncIterator[Send]:
    import httpx

    limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:

        async def send(method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            resp = await client.request(method, url, content=body, headers=headers)
            return resp.status_code, resp.content

        yield send


def default_client() -> str:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return "httpx"
    return "aiohttp"


@get("/health", media_type="application/json")
async def health() -> bytes:
    return b'{"status":"ok"}'


@route("/api/{rest:path}", http_method=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def proxy(request: Request[Any, Any, Any], rest: str) -> Response[bytes]:
    state = request.app.state
    path: str = request.scope["path"]
    headers = {"content-type": "application/json"}
    if path not in PUBLIC:
        verifier: TokenVerifier = state.verifier
        who = await verifier.verify_header(request.headers.get("Authorization"))
        headers[USER_ID_HEADER] = str(who.id)
        headers[ROLE_HEADER] = who.role
    query = request.scope["query_string"]
    url = state.upstream + path + ("?" + query.decode() if query else "")
    body = await request.body() if request.method in ("POST", "PUT", "PATCH") else b""
    status, content = await state.send(request.method, url, body, headers)
    return Response(content, status_code=status, media_type="application/json")


def create_app(upstream: str, client: str) -> Litestar:
    settings = load_settings()
    key = load_or_create(key_path(settings))

    async def own_keys() -> bytes:
        return key.jwks

    verifier = TokenVerifier(own_keys)
    verifier.load(key.jwks)
    state = State({"verifier": verifier, "upstream": upstream.rstrip("/")})
    make = aiohttp_client if client == "aiohttp" else httpx_client

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with make() as send:
            app.state.send = send
            yield

    return Litestar(
        route_handlers=[health, proxy],
        lifespan=[lifespan],
        state=state,
        exception_handlers={ActorError: _error, Exception: _error},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=None,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--client", choices=["aiohttp", "httpx"], default=None)
    args = p.parse_args()
    app = create_app(args.upstream, args.client or default_client())
    config = uvicorn_config(app, load_settings(), port=args.port)  # the edge's settings
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
