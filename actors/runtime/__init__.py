"""The actor framework: registration, serving, micro protocol, database, outbox, consumers, idempotency. It names no actor."""
