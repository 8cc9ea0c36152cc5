"""The NATS header names every process agrees on."""

from __future__ import annotations

# Error replies, as the NATS micro protocol has them: an HTTP status and a one-line message.
ERROR_CODE_HEADER = "Nats-Service-Error-Code"
ERROR_HEADER = "Nats-Service-Error"
# The caller's absolute deadline, epoch milliseconds: an actor drops work already late.
DEADLINE_HEADER = "Loans-Deadline"
# A keyed write returns its first answer when repeated (api.md).
KEY_HEADER = "Idempotency-Key"
AUTHORIZATION_HEADER = "Authorization"
# Why, where and for whom an event was dead-lettered (on the copy in the dead-letter stream).
REASON_HEADER = "Loans-Dead-Letter-Reason"
CONSUMER_HEADER = "Loans-Dead-Letter-Consumer"
SUBJECT_HEADER = "Loans-Dead-Letter-Subject"
