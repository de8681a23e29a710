"""Delivery chunks (one row per album, photo, summary or notice message) and refunds."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import execute, fetch_all, fetch_one
from rules.states import CHUNK_MOVES, REFUND_MOVES, expected_sources

Row = dict[str, Any]


def ensure_chunk(conn: Connection, *, job_id: int, chunk: int, kind: str, photo_ids: list[int]) -> Row:
    """The chunk's row, created pending on first sight."""
    execute(conn, "delivery.ensure_chunk", {"job_id": job_id, "chunk": chunk, "kind": kind, "photo_ids": photo_ids})
    return fetch_one(conn, "delivery.get_chunk", {"job_id": job_id, "chunk": chunk})


def chunks_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "delivery.chunks_of_job", {"job_id": job_id})


def start_sending(conn: Connection, *, job_id: int, chunk: int) -> Row | None:
    """Mark the chunk as being sent; None if it was already sent or blocked."""
    return fetch_one(conn, "delivery.start_sending", {"job_id": job_id, "chunk": chunk,
                                                      "expected": expected_sources(CHUNK_MOVES, "sending")})


def finish_chunk(conn: Connection, *, job_id: int, chunk: int, status: str, message_ids: list[int] | None = None,
                 error: str | None = None) -> Row | None:
    return fetch_one(conn, "delivery.finish_chunk", {
        "job_id": job_id, "chunk": chunk, "status": status, "message_ids": message_ids or [],
        "error": error, "expected": expected_sources(CHUNK_MOVES, status)})


def insert_refund(conn: Connection, *, payment_id: int, job_id: int | None, amount_kopecks: int,
                  photos_refunded: int, reason: str, external_request_id: str) -> Row:
    """The refund row for this idempotency key (created on first call, found on later ones)."""
    row = fetch_one(conn, "delivery.insert_refund", {
        "payment_id": payment_id, "job_id": job_id, "amount_kopecks": amount_kopecks,
        "photos_refunded": photos_refunded, "reason": reason, "external_request_id": external_request_id})
    return row or get_refund_by_key(conn, external_request_id=external_request_id)


def finish_refund(conn: Connection, *, id: int, status: str, provider_status: str | None,
                  error: str | None = None) -> Row | None:
    return fetch_one(conn, "delivery.finish_refund", {
        "id": id, "status": status, "provider_status": provider_status, "error": error,
        "expected": expected_sources(REFUND_MOVES, status)})


def refunds_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "delivery.refunds_of_job", {"job_id": job_id})


def get_refund_by_key(conn: Connection, *, external_request_id: str) -> Row | None:
    return fetch_one(conn, "delivery.get_refund_by_key", {"external_request_id": external_request_id})


def reopen_refund(conn: Connection, *, id: int) -> Row | None:
    return fetch_one(conn, "delivery.reopen_refund", {"id": id, "expected": expected_sources(REFUND_MOVES, "pending")})
