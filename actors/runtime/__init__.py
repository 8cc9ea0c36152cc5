"""The actor framework: registration, serving, the micro protocol, the database pool, outbox relay,
consumers, idempotency and background loops. It names no actor: ops/registry.py does."""
