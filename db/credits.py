"""Portrait credits: free portraits owed to a person (a ledger row per job, granted or spent) and their balance,
which never goes below zero (``portrait_credit_balances_nonnegative``)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import fetch_all, fetch_one, fetch_row

Row = dict[str, Any]


def insert_entry(conn: Connection, *, user_id: int, job_id: int, kind: str, photos: int) -> Row | None:
    """The ledger row; None when this job already has its row of ``kind`` ('granted' or 'spent')."""
    return fetch_one(conn, "credits.insert_entry", {"user_id": user_id, "job_id": job_id, "kind": kind,
                                                    "photos": photos})


def add_balance(conn: Connection, *, user_id: int, photos: int) -> int:
    return int(fetch_row(conn, "credits.add_balance", {"user_id": user_id, "photos": photos})["balance"])


def lock_balance(conn: Connection, *, user_id: int) -> int:
    """The balance, its row locked until the caller's transaction ends (0 when the person never had credits)."""
    row = fetch_one(conn, "credits.lock_balance", {"user_id": user_id})
    return row["balance"] if row is not None else 0


def take_balance(conn: Connection, *, user_id: int, photos: int) -> int | None:
    """Spend ``photos``; the balance left, or None when there are not that many."""
    row = fetch_one(conn, "credits.take_balance", {"user_id": user_id, "photos": photos})
    return row["balance"] if row is not None else None


def get_balance(conn: Connection, *, user_id: int) -> int:
    row = fetch_one(conn, "credits.get_balance", {"user_id": user_id})
    return row["balance"] if row is not None else 0


def history(conn: Connection, *, user_id: int, limit: int = 50) -> list[Row]:
    """Ledger rows, newest first: ``job_id``, ``kind``, ``photos``, ``created_at``."""
    return fetch_all(conn, "credits.history", {"user_id": user_id, "limit": limit})
