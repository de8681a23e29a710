"""Delivery chunks: one row per album, photo, summary or notice message sent for a job; and the job's delivery
lock (a session advisory lock: one delivery of a job at a time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from psycopg import Connection
from psycopg_pool import ConnectionPool

from db.errors import translated
from db.queries import execute, fetch_all, fetch_one, fetch_row
from rules.states import CHUNK_MOVES, expected_sources

Row = dict[str, Any]
DELIVERY_LOCK = 2  # advisory lock namespace: one delivery (deliver_album, resend_album) per job at a time


@contextmanager
def delivery_lock(pool: ConnectionPool, job_id: int) -> Iterator[bool]:
    """Hold the job's delivery lock for the block if it is free (yields True), else yield False at once.

    The lock lives on a pooled connection kept for the block and is released before it goes back."""
    with pool.connection() as conn:
        with translated():
            row = cast("dict[str, Any] | None",  # the pool's rows are dicts (db/pool.py)
                       conn.execute("SELECT pg_try_advisory_lock(%s, %s) AS got", (DELIVERY_LOCK, job_id)).fetchone())
        got = bool(row and row["got"])
        try:
            yield got
        finally:
            if got:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (DELIVERY_LOCK, job_id))


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
