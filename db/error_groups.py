"""Errors grouped by cause."""

from __future__ import annotations

from psycopg import Connection

from db.queries import Row, fetch_all, fetch_row


def record(conn: Connection, *, fingerprint: str, source: str, kind: str, location: str, message: str,
           traceback: str | None, correlation_id: str | None) -> int:
    """Count one occurrence; the group's occurrences so far."""
    return int(fetch_row(conn, "error_groups.record", {
        "fingerprint": fingerprint, "source": source, "kind": kind, "location": location, "message": message,
        "traceback": traceback, "correlation_id": correlation_id})["occurrences"])


def recent(conn: Connection, *, limit: int = 20) -> list[Row]:
    return fetch_all(conn, "error_groups.recent", {"limit": limit})


def total_occurrences(conn: Connection) -> int:
    """Every occurrence recorded so far, of every group (the watchdog's error rate is its difference)."""
    return int(fetch_row(conn, "error_groups.total_occurrences")["n"])
