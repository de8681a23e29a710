"""The per-process connection pool (opened explicitly, never at import)."""

from __future__ import annotations

import time
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

RECONNECT_GIVE_UP_S = 3.0
# A connection back in the pool for less than this is handed out again without the check's round trip: it worked a
# moment ago. A database that went away meanwhile fails that one use as it would have without the check — but a
# restart takes seconds, so after one every connection has sat idle longer than this and is checked again.
CHECK_AFTER_IDLE_S = 1.0


def check_if_idle(conn: Connection[Any]) -> None:
    """The pool's ``check``: ping a connection that sat in the pool ``CHECK_AFTER_IDLE_S`` or more (or was never
    used), not one returned a moment ago. Under load each round trip is a few milliseconds of waiting for the
    cores, and a Mini App read checked out two connections (its user, then its view): two pings of ten-odd round
    trips."""
    returned_at = getattr(conn, "_pinglass_returned_at", None)
    if returned_at is not None and time.monotonic() - returned_at < CHECK_AFTER_IDLE_S:
        return
    ConnectionPool.check_connection(conn)


class FleetPool(ConnectionPool):
    """psycopg_pool's pool that dates each connection's return (for ``check_if_idle``) and hands out the connection
    returned last first (last in, first out).

    psycopg_pool queues its idle connections first in, first out: ten connections serving a few requests a second
    each sit idle a second or more between uses, so nearly every checkout paid ``check_if_idle``'s ping — under
    load one more wait for the cores per request (a Mini App read checks a connection out twice: its user, then
    its view). Last in, first out, the few connections the load needs stay warm and the rest stay idle (and are
    checked when a burst reaches them)."""

    def putconn(self, conn: Connection[Any]) -> None:
        conn._pinglass_returned_at = time.monotonic()  # type: ignore[attr-defined]
        super().putconn(conn)
        # psycopg_pool appended it to the right of its deque and takes from the left (``getconn``): move it to the
        # left unless another thread took it already. (Its shrinking after ``max_idle`` then closes a warm one —
        # the others are as good, and that happens at most once per ``max_idle``.)
        with self._lock:
            idle = self._pool
            if idle and idle[-1] is conn:
                idle.rotate(1)


def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 10, name: str = "pinglass",
              timeout_s: float = 10.0) -> FleetPool:
    """Open a pool of autocommit connections returning rows as dicts; waits until one connection works.

    A lost connection is re-made in the background with doubling pauses (1, 2, 4 s … in psycopg_pool); left at
    its default (5 min) the pauses outgrow any outage, so the database would be back while the pool still
    waited. Giving an attempt up after RECONNECT_GIVE_UP_S keeps the pauses short: the next request that finds
    no connection starts a fresh attempt at once.

    ``timeout_s``: how long ``connection()`` waits for a working connection before PoolTimeout.

    A connection is checked as it leaves the pool (``check``: one empty round trip) unless it came back less than
    ``CHECK_AFTER_IDLE_S`` ago (``check_if_idle``): after a database restart the pool's connections are all
    broken, and without the check each would fail one request before the pool noticed; with it a broken one is
    replaced on the spot and the request never sees it.

    Autocommit: a statement outside ``conn.transaction()`` commits on its own, and a transaction is always the
    caller's explicit ``with conn.transaction():`` (a unit of work, a view's ``transaction()``)."""
    pool = FleetPool(database_url, min_size=min_size, max_size=max_size, name=name, open=False,
                     kwargs={"row_factory": dict_row, "autocommit": True}, timeout=timeout_s,
                     check=check_if_idle, reconnect_timeout=RECONNECT_GIVE_UP_S)
    pool.open(wait=True, timeout=15.0)
    return pool
