"""Rows of the payment upkeep: the GetState rotation over open T-Bank payments (``checked_at``), payments due
for the 24 h alert and the 48 h cancel. Status moves stay in ``db.payments``."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import fetch_all, fetch_one, fetch_row

Row = dict[str, Any]


def rotation_counts(conn: Connection, *, due_after_s: float) -> tuple[int, int]:
    """(open T-Bank payments the rotation covers, those not asked about for ``due_after_s``)."""
    row = fetch_row(conn, "payment_upkeep.rotation_counts", {"due_after_s": due_after_s})
    return int(row["open"]), int(row["due"])


def claim_for_check(conn: Connection, *, limit: int) -> list[Row]:
    """Up to ``limit`` open T-Bank payments, least recently checked first, marked checked now."""
    return fetch_all(conn, "payment_upkeep.claim_for_check", {"limit": limit})


def due_for_alert(conn: Connection, *, alert_after_s: float, limit: int) -> list[Row]:
    return fetch_all(conn, "payment_upkeep.due_for_alert", {"alert_after_s": alert_after_s, "limit": limit})


def mark_alerted(conn: Connection, *, id: int) -> bool:
    """Record the stuck alert of the payment; False when another run recorded it first."""
    return fetch_one(conn, "payment_upkeep.mark_alerted", {"id": id}) is not None


def due_for_cancel(conn: Connection, *, cancel_after_s: float, limit: int) -> list[Row]:
    return fetch_all(conn, "payment_upkeep.due_for_cancel", {"cancel_after_s": cancel_after_s, "limit": limit})
