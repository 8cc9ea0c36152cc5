"""Structured logs: one JSON object a line on stderr, carrying the trace and span ids.

Every long-running process (`loans worker`, `loans edge`, `loans up` and its children) calls
`configure(service)` once at start; libraries keep logging through the standard `logging` module
(uvicorn and nats-py included) and their records come out in the same shape.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec
from opentelemetry import trace

_encode = msgspec.json.Encoder().encode


class JsonFormatter(logging.Formatter):
    """time, level, service, logger, message; trace_id/span_id inside a span; exc_info as text."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # The handler runs in the caller's context, so the current span is the one the line is about.
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = trace.format_trace_id(span.trace_id)
            entry["span_id"] = trace.format_span_id(span.span_id)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return _encode(entry).decode()


def configure(service: str, level: int = logging.INFO) -> None:
    """Send every log record of this process to stderr as JSON lines (replacing other handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a record too, not a bare stderr line
