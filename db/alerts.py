"""Admin alerts (their announcement is a ``notify_admin`` message the use case sends)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.queries import fetch_all, fetch_one

Row = dict[str, Any]


def get_alert(conn: Connection, *, id: int) -> dict[str, Any] | None:
    return fetch_one(conn, "alerts.get_alert", {"id": id})


def mark_alert_sent(conn: Connection, *, id: int) -> bool:
    return fetch_one(conn, "alerts.mark_alert_sent", {"id": id}) is not None


def list_alerts(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    return fetch_all(conn, "alerts.list_alerts", {"limit": limit})


def insert_alert(conn: Connection, *, kind: str, message: str, severity: str, details: dict[str, Any],
                 dedup_key: str | None) -> Row | None:
    """The new alert, or None when an alert with this ``dedup_key`` exists already."""
    return fetch_one(conn, "alerts.insert_alert", {
        "kind": kind, "severity": severity, "message": message, "details": Jsonb(details), "dedup_key": dedup_key})


def _group_prefix(group: str) -> str:
    """The LIKE pattern of a group's windowed dedup keys (``<group>@<microseconds>``)."""
    return group.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "@%"


def insert_alert_per_window(conn: Connection, *, kind: str, message: str, severity: str, details: dict[str, Any],
                            group: str, window_s: float) -> Row | None:
    """The new alert, or None when the group had one within ``window_s`` (that one's ``details.repeats`` then
    counts this). Takes the group's transaction-scoped advisory lock first."""
    prefix = _group_prefix(group)
    fetch_one(conn, "alerts.lock_alert_group", {"group": group})
    row = fetch_one(conn, "alerts.insert_alert_per_window", {
        "kind": kind, "severity": severity, "message": message, "details": Jsonb(details), "group": group,
        "prefix": prefix, "window_s": float(window_s)})
    if row is None:
        fetch_one(conn, "alerts.count_alert_repeat", {"prefix": prefix})
    return row


def open_incident(conn: Connection, *, incident: str, kind: str, message: str, severity: str,
                  details: dict[str, Any]) -> Row | None:
    """The new alert of ``incident``, or None while one is open."""
    return fetch_one(conn, "alerts.open_incident", {
        "incident": incident, "kind": kind, "severity": severity, "message": message, "details": Jsonb(details)})


def open_incidents(conn: Connection) -> list[Row]:
    return fetch_all(conn, "alerts.open_incidents")


def resolve_incident(conn: Connection, *, id: int) -> Row | None:
    return fetch_one(conn, "alerts.resolve_incident", {"id": id})
