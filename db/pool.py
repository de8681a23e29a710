"""The per-process connection pool (opened explicitly, never at import)."""

from __future__ import annotations

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

RECONNECT_GIVE_UP_S = 3.0


def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 10, name: str = "pinglass",
              timeout_s: float = 10.0) -> ConnectionPool:
    """Open a pool of autocommit connections returning rows as dicts; waits until one connection works.

    A lost connection is re-made in the background with doubling pauses (1, 2, 4 s … in psycopg_pool); left at
    its default (5 min) the pauses outgrow any outage, so the database would be back while the pool still
    waited. Giving an attempt up after RECONNECT_GIVE_UP_S keeps the pauses short: the next request that finds
    no connection starts a fresh attempt at once.

    ``timeout_s``: how long ``connection()`` waits for a working connection before PoolTimeout.

    Every connection is checked as it leaves the pool (``check``: one empty round trip): after a database
    restart the pool's connections are all broken, and without the check each would fail one request before the
    pool noticed; with it a broken one is replaced on the spot and the request never sees it.

    Autocommit: a statement outside ``conn.transaction()`` commits on its own, and a transaction is always the
    caller's explicit ``with conn.transaction():`` (a unit of work, a view's ``transaction()``)."""
    pool = ConnectionPool(database_url, min_size=min_size, max_size=max_size, name=name, open=False,
                          kwargs={"row_factory": dict_row, "autocommit": True}, timeout=timeout_s,
                          check=ConnectionPool.check_connection, reconnect_timeout=RECONNECT_GIVE_UP_S)
    pool.open(wait=True, timeout=15.0)
    return pool
