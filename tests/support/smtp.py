"""A real SMTP server for the tests: aiosmtpd on a free loopback port, in a thread of its own.

It keeps every message it accepts; it answers a recipient the test puts in `refused` with a 5xx
and one in `deferred` with a 4xx; and it can be stopped and started again on the same port (an
outage). Stopping it drops the connections it had, as a server going away does.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Mail:
    """One accepted message: the envelope's recipients and the parsed message."""

    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class Recorder:
    """The aiosmtpd handler: answers RCPT by the test's lists, keeps what DATA brings."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.refused: set[str] = set()  # lowercased addresses answered 550
        self.deferred: set[str] = set()  # lowercased addresses answered 451
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.lower() in self.refused:
            return "550 5.1.1 mailbox unavailable"
        if address.lower() in self.deferred:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.mails.append(Mail(list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Mail]:
        """The accepted mails addressed to `address` (so far)."""
        with self._lock:
            return [m for m in self.mails if address.lower() in (r.lower() for r in m.rcpt_tos)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    """The server on one port for the whole of a test (or module), however often it is stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self.recorder = Recorder()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        # A stopped Controller's event loop is closed: each start makes a new one on the same port.
        controller = Controller(self.recorder, hostname=HOST, port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """A started SmtpServer, stopped at the end whatever state the test left it in."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
