"""Health and metrics.

- ``/health/live``: the process answers (a liveness probe: restart it when this fails).
- ``/health/ready``: every part the fleet depends on with status and latency (``usecases.health``): 200 when the
  required ones (database, Redis, storage) are fine, else 503; providers and the worker/scheduler heartbeats are
  reported, provider checks cached briefly. A readiness probe takes the web out of rotation while it is 503.
- ``/health``: the database and Redis only, quick (kept for the Dockerfile's HEALTHCHECK and older probes).
- ``/metrics``: Prometheus text for the holder of ``METRICS_TOKEN`` or ``ADMIN_TOKEN`` (``Authorization: Bearer
  …``): refunds, failures and provider error rates are not for the public. Nothing sent: 401; something wrong:
  403."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from telemetry.exposition import events_text, scraper_verdict
from usecases.admin import kie_keys
from usecases.fleet_state import FleetState, read_state
from usecases.health import Probes, readiness
from web.errors import ApiError
from workers.queues import queue_depths

blueprint = Blueprint("health", __name__)
PROBES_KEY = "pinglass.health.probes"


@blueprint.get("/health/live")
def live():
    return jsonify({"status": "ok"})


def readiness_report() -> tuple[bool, dict[str, Any]]:
    """The readiness report with this process's probes (the providers' answers cached ``PROVIDER_CACHE_S``): what
    /health/ready answers and the admin dashboard shows."""
    services = current_app.extensions["pinglass"].services
    probes = current_app.extensions.get(PROBES_KEY)
    if probes is None:  # built on first use, never at import; one set per process
        probes = current_app.extensions.setdefault(PROBES_KEY, Probes.for_services(services))
    return readiness(services, probes)


@blueprint.get("/health/ready")
def ready():
    is_ready, report = readiness_report()
    response = jsonify(report)
    response.status_code = 200 if is_ready else 503
    if not is_ready:
        response.headers["Retry-After"] = "5"
    response.headers["Cache-Control"] = "no-store"
    return response


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
    _check_scraper()
    return Response(events_text() + _state(), mimetype=CONTENT_TYPE_LATEST)


def _state() -> bytes:
    """The fleet's levels, read now (``usecases.fleet_state``, ``workers.queues``); a part that cannot be read
    is left out of this scrape (its absence is visible) rather than failing the events above."""
    fleet = current_app.extensions["pinglass"]
    families: list[GaugeMetricFamily] = []
    try:
        families += _db_families(read_state(fleet.services.pool))
    except Exception:  # noqa: BLE001 — the database being down is reported by /health/ready
        pass
    try:
        queue = GaugeMetricFamily("pinglass_queue_messages", "Messages in each broker queue by state",
                                  labels=["queue", "state"])
        for name, ready, delayed, dead in queue_depths(fleet.broker):
            for state, n in (("ready", ready), ("delayed", delayed), ("dead", dead)):
                queue.add_metric([name, state], n)
        families.append(queue)
    except Exception:  # noqa: BLE001 — the broker being down is reported by /health/ready
        pass
    try:
        families += _kie_families(kie_keys(fleet.services))
    except Exception:  # noqa: BLE001 — Redis being down is reported by /health/ready
        pass
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry)


def _db_families(state: FleetState) -> list[GaugeMetricFamily]:
    payments = GaugeMetricFamily("pinglass_payments", "Payments by rail and status", labels=["rail", "status"])
    for row in state.payments:
        payments.add_metric([row["rail"], row["status"]], row["n"])
    revenue = GaugeMetricFamily("pinglass_revenue_kopecks", "Paid minus refunded, by rail (kopecks)",
                                labels=["rail"])
    stars = GaugeMetricFamily("pinglass_revenue_stars", "Stars paid for payments not refunded", labels=["rail"])
    for row in state.revenue:
        revenue.add_metric([row["rail"]], row["kopecks"])
        if row["rail"] == "stars":
            stars.add_metric([row["rail"]], row["stars"])
    jobs = GaugeMetricFamily("pinglass_jobs", "Generation jobs by kind and status", labels=["kind", "status"])
    for row in state.jobs:
        jobs.add_metric([row["kind"], row["status"]], row["n"])
    tasks = GaugeMetricFamily("pinglass_tasks", "Generation tasks by status", labels=["status"])
    for row in state.tasks:
        tasks.add_metric([row["status"]], row["n"])
    deliveries = GaugeMetricFamily("pinglass_deliveries", "Telegram delivery chunks by status", labels=["status"])
    for row in state.deliveries:
        deliveries.add_metric([row["status"]], row["n"])
    return [payments, revenue, stars, jobs, tasks, deliveries,
            GaugeMetricFamily("pinglass_dead_letters_open", "Dead letters not replayed", value=state.open_dead_letters),
            GaugeMetricFamily("pinglass_outbox_unpublished", "Outbox rows not yet published",
                              value=state.outbox_backlog),
            GaugeMetricFamily("pinglass_outbox_lag_seconds", "Age of the oldest unpublished outbox row",
                              value=state.outbox_oldest_s)]


def _kie_families(keys: list[dict]) -> list[GaugeMetricFamily]:
    """Kie's budget: new-task slots each account holds in its current window against the limit, and keys resting
    after a 433 (by index, never the key)."""
    used = GaugeMetricFamily("pinglass_kie_window_used", "New-task slots an account holds in Kie's current window",
                             labels=["account"])
    limit = GaugeMetricFamily("pinglass_kie_window_limit", "New tasks Kie allows an account per window")
    resting = GaugeMetricFamily("pinglass_kie_key_resting", "1 while a key rests after a 433", labels=["key"])
    for account in sorted({str(k["account"]) for k in keys}):
        used.add_metric([account], next(k["account_used"] for k in keys if str(k["account"]) == account))
    for key in keys:
        resting.add_metric([str(key["key_index"])], 1 if key["resting_s"] > 0 else 0)
    if keys:
        limit.add_metric([], keys[0]["limit"])
    return [used, limit, resting]


class _Fixed:
    """A collector of metric families read once for this scrape."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families


def _check_scraper() -> None:
    settings = current_app.extensions["pinglass"].settings
    verdict = scraper_verdict(request.headers.get("Authorization", ""), (settings.metrics_token, settings.admin_token))
    if verdict == 401:
        raise ApiError(401, "UNAUTHORIZED", "send Authorization: Bearer <METRICS_TOKEN>",
                       headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if verdict == 403:
        raise ApiError(403, "FORBIDDEN", "this token may not read the metrics")
