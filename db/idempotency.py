"""Idempotency keys: the first answer given to (user, endpoint, key), replayed for every repeat."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.errors import translated
from db.queries import sql

Row = dict[str, Any]


def claim(conn: Connection, *, user_id: int, endpoint: str, key: str, request_hash: str) -> Row | None:
    """Record the key in the caller's transaction and return None if it is new; if it was used before, return
    the earlier row (``request_hash``, ``response_status``, ``response_body``) and record nothing.

    A concurrent first use blocks this call until that transaction ends, so the row returned is committed.
    """
    params = {"user_id": user_id, "endpoint": endpoint, "key": key, "request_hash": request_hash}
    with translated():
        if conn.execute(sql("idempotency.claim"), params).fetchone() is not None:
            return None
        return conn.execute(sql("idempotency.get"), params).fetchone()


def store_response(conn: Connection, *, user_id: int, endpoint: str, key: str, status: int,
                   body: dict[str, Any]) -> None:
    """Remember the answer of the key claimed in this transaction."""
    with translated():
        conn.execute(sql("idempotency.store_response"), {
            "user_id": user_id, "endpoint": endpoint, "key": key, "status": status, "body": Jsonb(body)})
