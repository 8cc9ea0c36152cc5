"""The HTTP edge: authenticates, rate-limits login, maps REST routes onto NATS subjects."""
