"""Delivery chunks: one row per album, photo, summary or notice message sent for a job."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import execute, fetch_all, fetch_one, fetch_row
from rules.states import CHUNK_MOVES, expected_sources

Row = dict[str, Any]


def delivery_counts(conn: Connection, *, job_id: int) -> Row:
    """Delivery chunks of the job: ``sent`` and ``total``."""
    return fetch_row(conn, "deliveries.delivery_counts", {"job_id": job_id})


def ensure_chunk(conn: Connection, *, job_id: int, chunk: int, kind: str, photo_ids: list[int]) -> Row:
    """The chunk's row, created pending on first sight."""
    execute(conn, "deliveries.ensure_chunk", {"job_id": job_id, "chunk": chunk, "kind": kind, "photo_ids": photo_ids})
    return fetch_row(conn, "deliveries.get_chunk", {"job_id": job_id, "chunk": chunk})


def chunks_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "deliveries.chunks_of_job", {"job_id": job_id})


def start_sending(conn: Connection, *, job_id: int, chunk: int) -> Row | None:
    """Mark the chunk as being sent; None if it was already sent or blocked."""
    return fetch_one(conn, "deliveries.start_sending", {"job_id": job_id, "chunk": chunk,
                                                      "expected": expected_sources(CHUNK_MOVES, "sending")})


def finish_chunk(conn: Connection, *, job_id: int, chunk: int, status: str, message_ids: list[int] | None = None,
                 error: str | None = None) -> Row | None:
    return fetch_one(conn, "deliveries.finish_chunk", {
        "job_id": job_id, "chunk": chunk, "status": status, "message_ids": message_ids or [],
        "error": error, "expected": expected_sources(CHUNK_MOVES, status)})
