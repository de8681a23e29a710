"""Cross-cutting observability: correlation ids, structured logs, Prometheus metrics."""
