"""`loans up`'s local mailbox: an SMTP sink on a loopback port that keeps each message it is given
as an `.eml` file under `<data dir>/mail/`, so the mails the users workers send can be read (any
mail client opens an .eml) without a mail server. Set LOANS_SMTP_URL to use a real one instead.

aiosmtpd runs it on a thread with an event loop of its own; it accepts any sender and recipient.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from ops.embedded import free_port

# aiosmtpd logs every connection at INFO on "mail.log": dozens of lines in `loans up`'s terminal
# for a mailbox that only catches our own mails. Its warnings and errors still show.
logging.getLogger("mail.log").setLevel(logging.WARNING)

HOST = "127.0.0.1"


class _EmlWriter:
    """The aiosmtpd handler: each message's bytes as they came, one file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}.eml"
        path = self.folder / name
        tmp = path.with_suffix(".tmp")  # renamed once whole: a reader never sees half a message
        tmp.write_bytes(envelope.original_content)
        os.replace(tmp, path)
        return "250 Message accepted for delivery"


class Mailbox:
    """The sink: `start` returns the URL to give LOANS_SMTP_URL; `stop` ends it."""

    def __init__(self, data_path: Path, port: int | None = None) -> None:
        self.folder = data_path / "mail"
        self.port = port or free_port(HOST)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        controller = Controller(_EmlWriter(self.folder), hostname=HOST, port=self.port)
        controller.start()
        self._controller = controller
        return self.url

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
