"""`loans up`'s local mailbox (ops/mailbox.py) keeps each message it is sent as an .eml file under
`<data dir>/mail/`, and stops listening when stopped."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from ops.mailbox import Mailbox

pytestmark = pytest.mark.anyio


def _message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "loans@example.test"
    message["To"] = f"customer-{n}@example.com"
    message["Subject"] = f"Notice {n}"
    message.set_content(f"Body {n}\n")
    message.add_alternative(f"<p>Body {n}</p>\n", subtype="html")
    return message


async def test_each_message_becomes_an_eml_file_in_the_data_dir(tmp_path: Path) -> None:
    """Two mails → two .eml files under <data dir>/mail/ that parse back to what was sent."""
    mailbox = Mailbox(tmp_path)
    url = mailbox.start()
    try:
        assert url == f"smtp://127.0.0.1:{mailbox.port}"
        for n in (1, 2):
            await aiosmtplib.send(_message(n), hostname="127.0.0.1", port=mailbox.port, timeout=10)
    finally:
        mailbox.stop()
    files = sorted((tmp_path / "mail").iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert sorted((m["To"], m["Subject"]) for m in parsed) == [
        ("customer-1@example.com", "Notice 1"),
        ("customer-2@example.com", "Notice 2"),
    ]
    for message in parsed:
        assert isinstance(message, EmailMessage)
        plain = message.get_body(("plain",))
        assert plain is not None and plain.get_content().startswith("Body ")
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", mailbox.port), timeout=2):
        pass  # stopped: nothing listens there any more
