"""Benchmarks: loan-actors against a direct app and an HTTP-hop gateway (python -m bench)."""
