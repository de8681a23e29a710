"""The per-process connection pool (opened explicitly, never at import)."""

from __future__ import annotations

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 10, name: str = "pinglass") -> ConnectionPool:
    """Open a pool of autocommit connections returning rows as dicts; waits until one connection works.

    Autocommit: a statement outside ``conn.transaction()`` commits on its own, and a transaction is always the
    caller's explicit ``with conn.transaction():`` (a unit of work, a view's ``transaction()``)."""
    pool = ConnectionPool(database_url, min_size=min_size, max_size=max_size, name=name, open=False,
                          kwargs={"row_factory": dict_row, "autocommit": True}, timeout=10.0)
    pool.open(wait=True, timeout=15.0)
    return pool
