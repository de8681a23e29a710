"""The fleet's state for /metrics, read when Prometheus scrapes: payments by rail and status, revenue, jobs,
tasks and deliveries by status, unresolved dead letters and the outbox's lag. Read from the database, not
counted in processes, so every web process on every machine reports the same truth and nothing is lost when a
process restarts (the counters in telemetry/metrics.py count events; these are levels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import ConnectionPool

from db import fleet_state


@dataclass(frozen=True)
class FleetState:
    payments: list[dict[str, Any]]
    revenue: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    open_dead_letters: int
    outbox_backlog: int
    outbox_oldest_s: float


def read_state(pool: ConnectionPool) -> FleetState:
    with pool.connection(timeout=3) as conn, conn.transaction():
        lag = fleet_state.outbox_lag(conn)
        return FleetState(
            payments=fleet_state.payments_by_status(conn), revenue=fleet_state.revenue(conn),
            jobs=fleet_state.jobs_by_status(conn), tasks=fleet_state.tasks_by_status(conn),
            deliveries=fleet_state.deliveries_by_status(conn),
            open_dead_letters=fleet_state.open_dead_letters(conn),
            outbox_backlog=int(lag["n"]), outbox_oldest_s=float(lag["oldest_s"]))
