"""The envelope every domain event travels in (stream EVENTS, subjects `events.<actor>.<entity>.<verb>`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Every event: what happened (`type`), to which aggregate, at which version of it."""

    id: uuid.UUID
    type: str  # e.g. "users.agent.approved"; the subject is "<prefix>.<type>"
    occurred_at: datetime
    aggregate_id: uuid.UUID
    version: int
    data: msgspec.Raw


decode_envelope = msgspec.json.Decoder(Envelope).decode


def data_as(envelope: Envelope, data_type: type[Any]) -> Any:
    return msgspec.json.decode(envelope.data, type=data_type)
