"""Session advisory locks for work that must not run twice at once (e.g. delivering one job's albums)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from psycopg_pool import ConnectionPool

from db.errors import translated

DELIVERY = 2  # lock namespace: deliver_album per job


@contextmanager
def try_lock(pool: ConnectionPool, namespace: int, key: int) -> Iterator[bool]:
    """Hold the lock for the block if it is free (yields True), else yield False at once.

    The lock lives on a pooled connection kept for the block and is released before it goes back."""
    with pool.connection() as conn:
        with translated():
            row = cast("dict[str, Any] | None",  # the pool's rows are dicts (db/pool.py)
                       conn.execute("SELECT pg_try_advisory_lock(%s, %s) AS got", (namespace, key)).fetchone())
        got = bool(row and row["got"])
        try:
            yield got
        finally:
            if got:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (namespace, key))
