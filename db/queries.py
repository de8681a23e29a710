"""Named SQL queries loaded from ``db/queries/*.sql``.

A file holds blocks that start with ``-- name: <query_name>``; each block is one statement with ``%(param)s``
placeholders. The files are parsed once, on first use, into one dict keyed by ``<file>.<query_name>``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from psycopg import Connection
from psycopg.pq import TransactionStatus

from db.errors import translated

QUERY_DIR = Path(__file__).with_name("queries")
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@functools.cache
def _load() -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(QUERY_DIR.glob("*.sql")):
        parts = _NAME.split(path.read_text(encoding="utf-8"))
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            key = f"{path.stem}.{name}"
            if key in queries:
                raise ValueError(f"duplicate query {key}")
            queries[key] = body.strip()
    return queries


def sql(name: str) -> str:
    """The text of query ``<file>.<name>``; KeyError names a missing query."""
    return _load()[name]


Row = dict[str, Any]  # the pool's connections return rows as dicts (db/pool.py)


def fetch_one(conn: Connection[Any], name: str, params: dict[str, Any] | None = None) -> Row | None:
    """Run named query ``name`` and return its first row (None when there is none)."""
    with translated():
        return cast("Row | None", conn.execute(sql(name), params or {}).fetchone())


def fetch_row(conn: Connection[Any], name: str, params: dict[str, Any] | None = None) -> Row:
    """Run named query ``name``, which always yields a row (``INSERT … RETURNING``, an aggregate), and return it;
    LookupError if it yielded none."""
    row = fetch_one(conn, name, params)
    if row is None:
        raise LookupError(f"query {name} returned no row")
    return row


def fetch_all(conn: Connection[Any], name: str, params: dict[str, Any] | None = None) -> list[Row]:
    """Run named query ``name`` and return every row."""
    with translated():
        return cast("list[Row]", conn.execute(sql(name), params or {}).fetchall())


def fetch_together(conn: Connection[Any], queries: Sequence[tuple[str, dict[str, Any]]]) -> list[list[Row]]:
    """Run the named queries as one transaction in one round trip and return every query's rows, in order (a
    statement without rows gives ``[]``). For statements that do not need one another's results (a screen's
    several lists; a setting and the write it is for). Inside the caller's transaction it is a savepoint of that
    one.

    Psycopg's pipeline mode with its ``transaction()`` waits for BEGIN, for the statements and for COMMIT in turn
    (each a sync: four round trips, seen on libpq's trace); here BEGIN, the statements and COMMIT go out together
    and the pipeline's one sync reads every answer."""
    with translated():
        if conn.info.transaction_status != TransactionStatus.IDLE:
            with conn.transaction():
                cursors = [conn.execute(sql(name), params) for name, params in queries]
                return [_rows(cursor) for cursor in cursors]
        try:
            with conn.pipeline():
                conn.execute("BEGIN")
                cursors = [conn.execute(sql(name), params) for name, params in queries]
                conn.execute("COMMIT")
        except BaseException:
            # a statement failed: the server skipped the rest, COMMIT included, and the transaction is open in error
            if conn.info.transaction_status in (TransactionStatus.INERROR, TransactionStatus.INTRANS):
                conn.execute("ROLLBACK")
            raise
        return [_rows(cursor) for cursor in cursors]


def _rows(cursor: Any) -> list[Row]:
    return cast("list[Row]", cursor.fetchall()) if cursor.description is not None else []


def execute(conn: Connection[Any], name: str, params: dict[str, Any] | None = None) -> int:
    """Run named statement ``name``; returns the number of rows it touched."""
    with translated():
        return conn.execute(sql(name), params or {}).rowcount
