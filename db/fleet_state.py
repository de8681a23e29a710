"""The fleet's state in numbers, for /metrics (``usecases.fleet_state``)."""

from __future__ import annotations

from psycopg import Connection

from db.queries import Row, fetch_all, fetch_row


def payments_by_status(conn: Connection) -> list[Row]:
    return fetch_all(conn, "fleet_state.payments_by_status")


def revenue(conn: Connection) -> list[Row]:
    return fetch_all(conn, "fleet_state.revenue")


def jobs_by_status(conn: Connection) -> list[Row]:
    return fetch_all(conn, "fleet_state.jobs_by_status")


def tasks_by_status(conn: Connection) -> list[Row]:
    return fetch_all(conn, "fleet_state.tasks_by_status")


def deliveries_by_status(conn: Connection) -> list[Row]:
    return fetch_all(conn, "fleet_state.deliveries_by_status")


def open_dead_letters(conn: Connection) -> int:
    return int(fetch_row(conn, "fleet_state.open_dead_letters")["n"])


def outbox_lag(conn: Connection) -> Row:
    return fetch_row(conn, "fleet_state.outbox_lag")


def tbank_activity(conn: Connection, *, window_s: float) -> Row:
    return fetch_row(conn, "fleet_state.tbank_activity", {"window_s": window_s})
