"""The person's orders, newest first: each payment with its tier, its avatar and how far its generation has
come (what the Mini App's home lists)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import orders

if TYPE_CHECKING:
    from psycopg import Connection


def orders_of_user(conn: Connection, *, user_id: int) -> list[dict[str, Any]]:
    return orders.orders_of_user(conn, user_id=user_id)
