"""A person's orders: their payments with the progress of the jobs they paid for (the Mini App's home)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import fetch_all


def orders_of_user(conn: Connection, *, user_id: int, limit: int = 50) -> list[dict[str, Any]]:
    return fetch_all(conn, "orders.orders_of_user", {"user_id": user_id, "limit": limit})
