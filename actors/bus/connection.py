"""One way to connect to NATS, with reconnect settings chosen on purpose (design.md §8)."""

from __future__ import annotations

import logging
import re
import ssl

from nats.aio.client import Client

from actors.contracts.config import Settings

log = logging.getLogger("actors.nats")

INBOX = "_INBOX"  # every inbox prefix starts so; nats-py's default is this alone
_INBOX_TOKEN = re.compile(r"_INBOX(_[A-Za-z0-9_-]+)?")


def inbox_prefix(settings: Settings, name: str) -> str:
    """`_INBOX_<NATS user>`: each component reads only its own replies (design.md §16).

    deploy/nats-authorization.conf lets user `users` subscribe `_INBOX_users.>` and no other inbox.
    Without a user (a server with no authorization) the connection's name stands in.
    """
    return f"{INBOX}_{re.sub(r'[^A-Za-z0-9_-]', '_', settings.nats_user or name)}"


def is_inbox(subject: str) -> bool:
    """Whether `subject` is under an inbox prefix: the only reply subjects an actor answers.

    Anything else (`$JS.API.STREAM.PURGE.EVENTS`, another actor's `loans.create`, an event subject)
    would make the actor publish where the requester chose: a confused deputy (issue 12, M1).
    """
    first, dot, rest = subject.partition(".")
    if not (dot and rest) or any(c in rest for c in "*> \t\r\n"):  # no wildcards: one inbox
        return False
    return _INBOX_TOKEN.fullmatch(first) is not None


async def connect(settings: Settings, name: str) -> Client:
    # Keep trying for ever (a worker has nothing better to do), but buffer little while
    # disconnected so callers fail fast instead of blocking for minutes.
    nc = Client()

    async def disconnected() -> None:
        if not (nc.is_closed or nc.is_draining):  # nats-py calls this on a close too
            log.warning("NATS connection lost; reconnecting")

    async def reconnected() -> None:
        log.warning("NATS reconnected to %s", server_of(nc))

    await nc.connect(
        # several servers of a cluster: LOANS_NATS_URL=nats://a:4222,nats://b:4222
        [url.strip() for url in settings.require_nats_url().split(",") if url.strip()],
        name=name,
        inbox_prefix=inbox_prefix(settings, name),
        connect_timeout=2,
        reconnect_time_wait=0.5,  # type: ignore[arg-type]  # typed int; a float works (asyncio.sleep)
        max_reconnect_attempts=-1,
        pending_size=8 * 1024 * 1024,
        allow_reconnect=True,
        user=settings.nats_user,
        password=settings.nats_password,
        tls=tls_context(settings),
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
    )
    return nc


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS to NATS trusting LOANS_NATS_TLS_CA (deploy/nats-cluster.conf): server certificates are
    checked against it and the URL's host name. None without a CA: a tls:// URL then uses the
    system's trust store (nats-py's default), a nats:// one plain TCP."""
    if not settings.nats_tls_ca:
        return None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.nats_tls_ca)


def server_of(nc: Client | None) -> str | None:
    """host:port of the NATS server (which node of a cluster) `nc` is connected to, if it is."""
    url = nc.connected_url if nc is not None and nc.is_connected else None
    return f"{url.hostname}:{url.port}" if url is not None else None


async def settled(nc: Client, timeout: float = 5) -> None:
    """Return once the server has processed every command `nc` has sent so far.

    One `flush()` does not prove it: nats-py 2.16 writes a flush's PING straight to the socket,
    ahead of a SUB still queued for its flusher task, so the PONG can come back before the server
    has read the SUB, and another connection's publish then finds nobody subscribed (a CI run lost
    a message so). The flusher is ready to run before that first PONG can arrive (its wake-up is
    queued before the flush yields; only a socket backed up past its write limit could hold it),
    so the second PING goes out behind the SUB and its PONG answers for it
    (tests/bus/test_settled.py).
    """
    await nc.flush(timeout=timeout)  # type: ignore[arg-type]  # typed int; a float works (wait_for)
    await nc.flush(timeout=timeout)  # type: ignore[arg-type]
