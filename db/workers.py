"""Worker processes' liveness (``worker_processes``) and the claims of silent ones."""

from __future__ import annotations

from psycopg import Connection

from db.queries import Row, execute, fetch_all


def beat(conn: Connection, *, id: str, host: str, pid: int) -> None:
    execute(conn, "workers.beat", {"id": id, "host": host, "pid": pid})


def forget_silent(conn: Connection, *, older_than_s: float) -> int:
    return execute(conn, "workers.forget_silent", {"older_than_s": older_than_s})


def silent_claims(conn: Connection, *, silent_s: float, limit: int = 200) -> list[Row]:
    """'submitting' tasks whose claiming process has been silent for ``silent_s``, oldest claim first."""
    return fetch_all(conn, "workers.silent_claims", {"silent_s": silent_s, "limit": limit})


def stuck_claims(conn: Connection, *, idle_s: float, silent_s: float, hung_s: float, limit: int = 200) -> list[Row]:
    """'submitting' tasks idle ``idle_s`` that no live claimer may still be submitting (``workers.stuck_claims``)."""
    return fetch_all(conn, "workers.stuck_claims", {"idle_s": idle_s, "silent_s": silent_s, "hung_s": hung_s,
                                                    "limit": limit})
