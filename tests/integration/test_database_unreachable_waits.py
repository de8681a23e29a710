"""A database restart is a wait, not a failure (found by the chaos run, issue 13): the retry policy tells "the
database could not be reached" (the message runs again later, its retry budget kept, no dead letter — a periodic
actor without retries, such as reconcile_payments, used to become a dead letter and an alert at each restart)
from "a statement failed" (the usual retries). Each error here is a real one, raised by the real server or the
real pool."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from settings import Settings
from tests.conftest import free_port
from workers.retries import database_unreachable


def test_a_refused_connection_and_the_pools_timeout_are_unreachable() -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(dead, connect_timeout=2)
    assert database_unreachable(refused.value)
    pool = ConnectionPool(dead, min_size=0, max_size=1, timeout=0.5, open=True, reconnect_timeout=1)
    try:
        with pytest.raises(psycopg.OperationalError) as timed_out, pool.connection():
            pass
    finally:
        pool.close()
    assert type(timed_out.value).__name__ == "PoolTimeout" and database_unreachable(timed_out.value)


def test_a_connection_cut_by_the_server_is_unreachable(settings: Settings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as victim, \
            psycopg.connect(settings.database_url, autocommit=True) as admin:
        pid = victim.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError) as cut:
            victim.execute("SELECT 1")
    assert database_unreachable(cut.value), (type(cut.value), cut.value.sqlstate)


def test_a_failing_statement_is_not(settings: Settings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 50")
        with pytest.raises(psycopg.OperationalError) as cancelled:  # QueryCanceled, SQLSTATE 57014
            conn.execute("SELECT pg_sleep(1)")
        with pytest.raises(psycopg.Error) as syntax:
            conn.execute("SELEC 1")
    assert cancelled.value.sqlstate == "57014" and not database_unreachable(cancelled.value)
    assert not database_unreachable(syntax.value)
    assert not database_unreachable(RuntimeError("boom"))
