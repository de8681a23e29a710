"""Liveness and metrics: ``/health`` checks the database and Redis; ``/metrics`` is Prometheus text."""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health():
    services = current_app.extensions["pinglass"].services
    checks: dict[str, str] = {}
    try:
        with services.pool.connection(timeout=3) as conn:
            conn.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 — health reports, it does not raise
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        services.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if healthy else "degraded", "checks": checks}), 200 if healthy else 503


@blueprint.get("/metrics")
def metrics():
    """This process's metrics; in multiprocess mode (PROMETHEUS_MULTIPROC_DIR shared by the web and the
    workers of a machine, as `make up` sets it) the sum over every process, workers included."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
