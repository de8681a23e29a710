"""Refunds: one row per idempotency key (the ExternalRequestId T-Bank dedupes on)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import fetch_all, fetch_one, fetch_row
from rules.states import REFUND_MOVES, expected_sources

Row = dict[str, Any]


def insert_refund(conn: Connection, *, payment_id: int, job_id: int | None, amount_kopecks: int,
                  photos_refunded: int, reason: str, external_request_id: str) -> Row:
    """The refund row for this idempotency key (created on first call, found on later ones)."""
    row = fetch_one(conn, "refunds.insert_refund", {
        "payment_id": payment_id, "job_id": job_id, "amount_kopecks": amount_kopecks,
        "photos_refunded": photos_refunded, "reason": reason, "external_request_id": external_request_id})
    return row or fetch_row(conn, "refunds.get_refund_by_key", {"external_request_id": external_request_id})


def finish_refund(conn: Connection, *, id: int, status: str, provider_status: str | None,
                  error: str | None = None) -> Row | None:
    return fetch_one(conn, "refunds.finish_refund", {
        "id": id, "status": status, "provider_status": provider_status, "error": error,
        "expected": expected_sources(REFUND_MOVES, status)})


def refunds_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "refunds.refunds_of_job", {"job_id": job_id})


def get_refund_by_key(conn: Connection, *, external_request_id: str) -> Row | None:
    return fetch_one(conn, "refunds.get_refund_by_key", {"external_request_id": external_request_id})


def reopen_refund(conn: Connection, *, id: int) -> Row | None:
    return fetch_one(conn, "refunds.reopen_refund", {"id": id, "expected": expected_sources(REFUND_MOVES, "pending")})
