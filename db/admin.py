"""What operators see: counts of jobs and payments by status, money, recent jobs, backlogs."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import fetch_all, fetch_one, fetch_row
from rules.states import JOB_MOVES, PAYMENT_MOVES

Row = dict[str, Any]


def job_counts(conn: Connection) -> dict[str, int]:
    """Jobs per status, every status present (zero when none)."""
    counts = {status: 0 for status in JOB_MOVES}
    counts.update({row["status"]: int(row["n"]) for row in fetch_all(conn, "admin.job_counts")})
    return counts


def payment_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Payments per status: ``{"count", "amount_kopecks"}``, every status present."""
    counts = {status: {"count": 0, "amount_kopecks": 0} for status in PAYMENT_MOVES}
    for row in fetch_all(conn, "admin.payment_counts"):
        counts[row["status"]] = {"count": int(row["n"]), "amount_kopecks": int(row["amount_kopecks"])}
    return counts


def money(conn: Connection) -> dict[str, int]:
    """Kopecks paid (charged), refunded and credited to referrers, and what stays with us."""
    row = fetch_row(conn, "admin.money")
    paid, refunded, referral = (int(row[k]) for k in ("paid_kopecks", "refunded_kopecks", "referral_kopecks"))
    return {"paid_kopecks": paid, "refunded_kopecks": refunded, "referral_kopecks": referral,
            "net_kopecks": paid - refunded - referral}


def recent_jobs(conn: Connection, *, status: str | None = None, limit: int = 50) -> list[Row]:
    return fetch_all(conn, "admin.recent_jobs", {"status": status, "limit": limit})


def payments(conn: Connection, *, status: str | None, rail: str | None, stuck_only: bool, limit: int) -> list[Row]:
    return fetch_all(conn, "admin.payments", {"status": status, "rail": rail, "stuck_only": stuck_only,
                                              "limit": limit})


def open_dead_letters(conn: Connection) -> int:
    return int(fetch_row(conn, "admin.open_dead_letters")["n"])


def unsent_alerts(conn: Connection) -> int:
    return int(fetch_row(conn, "admin.unsent_alerts")["n"])


def outbox_backlog(conn: Connection) -> dict[str, Any]:
    """Unpublished outbox rows and the age in seconds of the oldest (None when there are none)."""
    row = fetch_row(conn, "admin.outbox_backlog")
    oldest = row["oldest_s"]
    return {"backlog": int(row["n"]), "oldest_s": round(float(oldest), 1) if oldest is not None else None}


def lookup(conn: Connection, *, term: str) -> list[Row]:
    """Payments, jobs and people an operator's search term names (by id, provider ids, Telegram id, username)."""
    number = int(term) if term.isdigit() and len(term) < 19 else None
    return fetch_all(conn, "admin.lookup", {"number": number, "text": term})


def payment_events(conn: Connection, *, provider_payment_id: str) -> list[Row]:
    return fetch_all(conn, "admin.payment_events", {"provider_payment_id": provider_payment_id})


def payment_refunds(conn: Connection, *, payment_id: int) -> list[Row]:
    return fetch_all(conn, "admin.payment_refunds", {"payment_id": payment_id})


def payment_referral(conn: Connection, *, payment_id: int) -> Row | None:
    return fetch_one(conn, "admin.payment_referral", {"payment_id": payment_id})


def funnel(conn: Connection, *, days: int, min_references: int) -> Row:
    return fetch_row(conn, "admin.funnel", {"days": days, "min_references": min_references})


def revenue_by_tier(conn: Connection, *, days: int) -> list[Row]:
    return fetch_all(conn, "admin.revenue_by_tier", {"days": days})


def job_slots(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "admin.job_slots", {"job_id": job_id})


def job_timeline(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "admin.job_timeline", {"job_id": job_id})


def job_deliveries(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "admin.job_deliveries", {"job_id": job_id})
