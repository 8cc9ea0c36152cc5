"""Route tables: one module per actor, plus the service endpoints."""
