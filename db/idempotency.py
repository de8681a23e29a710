"""An API request done once: the first answer given to a (user, endpoint, key), replayed for every repeat.
Messages are done once by the outbox's dedup rows (db/outbox.py)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.queries import execute, fetch_one

Row = dict[str, Any]


def claim(conn: Connection, *, user_id: int, endpoint: str, key: str, request_hash: str) -> Row | None:
    """Record the key in the caller's transaction and return None if it is new; if it was used before, return
    the earlier row (``request_hash``, ``response_status``, ``response_body``) and record nothing.

    A concurrent first use blocks this call until that transaction ends, so the row returned is committed.
    """
    params = {"user_id": user_id, "endpoint": endpoint, "key": key, "request_hash": request_hash}
    if fetch_one(conn, "idempotency.claim", params) is not None:
        return None
    return fetch_one(conn, "idempotency.get", params)


def store_response(conn: Connection, *, user_id: int, endpoint: str, key: str, status: int,
                   body: dict[str, Any]) -> None:
    """Remember the answer of the key claimed in this transaction."""
    execute(conn, "idempotency.store_response", {
        "user_id": user_id, "endpoint": endpoint, "key": key, "status": status, "body": Jsonb(body)})
