"""The dead-letter stream: list what consumers gave up on, and send an event back once fixed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope, decode_envelope
from actors.contracts.headers import CONSUMER_HEADER, REASON_HEADER, SUBJECT_HEADER


@dataclass(frozen=True)
class DeadLetter:
    seq: int  # in the dead-letter stream
    subject: str  # where the event was first published
    consumer: str
    reason: str
    event_id: uuid.UUID | None
    payload: bytes
    headers: dict[str, str]


async def dead_letters(js: JetStreamContext, settings: Settings) -> list[DeadLetter]:
    info = await js.stream_info(settings.dlq_stream)
    found: list[DeadLetter] = []
    if not info.state.messages:
        return found
    for seq in range(max(1, info.state.first_seq), info.state.last_seq + 1):
        try:
            raw = await js.get_msg(settings.dlq_stream, seq)
        except NotFoundError:  # deleted (already replayed)
            continue
        headers = dict(raw.headers or {})
        envelope: Envelope | None
        try:
            envelope = decode_envelope(raw.data or b"")
        except Exception:
            envelope = None
        found.append(
            DeadLetter(
                seq=seq,
                subject=headers.get(SUBJECT_HEADER, (raw.subject or "").removeprefix("dlq.")),
                consumer=headers.get(CONSUMER_HEADER, ""),
                reason=headers.get(REASON_HEADER, ""),
                event_id=envelope.id if envelope else None,
                payload=raw.data or b"",
                headers=headers,
            )
        )
    return found


async def replay(js: JetStreamContext, settings: Settings, key: str) -> DeadLetter | None:
    """Publish the dead letter whose event id (or dead-letter seq) is `key` to its first subject again.

    Every consumer of that subject sees it again; those that applied it before find its id in their
    inbox and change nothing. The dead letter is removed once the event is back in the stream.
    """
    for letter in await dead_letters(js, settings):
        if key in (str(letter.event_id), str(letter.seq)):
            headers = {k: v for k, v in letter.headers.items() if not k.startswith("Loans-Dead-Letter")}
            # A new message id: the original one may still be inside the duplicate window.
            headers["Nats-Msg-Id"] = f"{letter.event_id or uuid.uuid4()}:replay:{letter.seq}"
            await js.publish(letter.subject, letter.payload, headers=headers)
            await js.delete_msg(settings.dlq_stream, letter.seq)
            return letter
    return None
