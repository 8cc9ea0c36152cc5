"""Tracing, propagation over NATS headers and JSON logs, shared by the edge and the actors."""
