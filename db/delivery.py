"""Delivery chunks (one row per album, photo, summary or notice message) and refunds."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.errors import translated
from db.queries import sql

Row = dict[str, Any]


def ensure_chunk(conn: Connection, *, job_id: int, chunk: int, kind: str, photo_ids: list[int]) -> Row:
    """The chunk's row, created pending on first sight."""
    with translated():
        conn.execute(sql("delivery.ensure_chunk"),
                     {"job_id": job_id, "chunk": chunk, "kind": kind, "photo_ids": photo_ids})
        return conn.execute(sql("delivery.get_chunk"), {"job_id": job_id, "chunk": chunk}).fetchone()


def chunks_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    with translated():
        return conn.execute(sql("delivery.chunks_of_job"), {"job_id": job_id}).fetchall()


def start_sending(conn: Connection, *, job_id: int, chunk: int) -> Row | None:
    """Mark the chunk as being sent; None if it was already sent or blocked."""
    with translated():
        return conn.execute(sql("delivery.start_sending"), {"job_id": job_id, "chunk": chunk}).fetchone()


def finish_chunk(conn: Connection, *, job_id: int, chunk: int, status: str, message_ids: list[int] | None = None,
                 error: str | None = None) -> Row | None:
    with translated():
        return conn.execute(sql("delivery.finish_chunk"), {
            "job_id": job_id, "chunk": chunk, "status": status, "message_ids": message_ids or [],
            "error": error}).fetchone()


def insert_refund(conn: Connection, *, payment_id: int, job_id: int | None, amount_kopecks: int,
                  photos_refunded: int, reason: str, external_request_id: str) -> Row:
    """The refund row for this idempotency key (created on first call, found on later ones)."""
    with translated():
        row = conn.execute(sql("delivery.insert_refund"), {
            "payment_id": payment_id, "job_id": job_id, "amount_kopecks": amount_kopecks,
            "photos_refunded": photos_refunded, "reason": reason,
            "external_request_id": external_request_id}).fetchone()
        return row or conn.execute(sql("delivery.get_refund_by_key"),
                                   {"external_request_id": external_request_id}).fetchone()


def finish_refund(conn: Connection, *, id: int, status: str, provider_status: str | None,
                  error: str | None = None) -> Row | None:
    with translated():
        return conn.execute(sql("delivery.finish_refund"), {
            "id": id, "status": status, "provider_status": provider_status, "error": error}).fetchone()


def refunds_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    with translated():
        return conn.execute(sql("delivery.refunds_of_job"), {"job_id": job_id}).fetchall()


def get_refund_by_key(conn: Connection, *, external_request_id: str) -> Row | None:
    with translated():
        return conn.execute(sql("delivery.get_refund_by_key"),
                            {"external_request_id": external_request_id}).fetchone()


def reopen_refund(conn: Connection, *, id: int) -> Row | None:
    with translated():
        return conn.execute(sql("delivery.reopen_refund"), {"id": id}).fetchone()
