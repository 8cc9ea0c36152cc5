"""Route tables: one module per actor, plus the service endpoints.

ACTOR_ROUTES is the one list of them: the app mounts each, the fast path answers their forwarded
routes, and /ready pings the actor of every subject they route (edge/routes/service.py).
"""

from __future__ import annotations

from edge.routes import loans, servicing, users

ACTOR_ROUTES = (users, loans, servicing)
ENDPOINTS = [ep for module in ACTOR_ROUTES for ep in module.ENDPOINTS]
FORWARDED = [pair for module in ACTOR_ROUTES for pair in module.FORWARDED]
