"""The fleet's connection pool hands out the connection returned last (last in, first out), so the few connections a
load needs stay warm and skip the idle check's ping; one idle a while is pinged before use. Real PostgreSQL; the
pings are counted on libpq's wire trace."""

from __future__ import annotations

import time

from db.pool import CHECK_AFTER_IDLE_S, open_pool


def test_the_connection_returned_last_is_handed_out_first(database_url) -> None:
    pool = open_pool(database_url, min_size=3, max_size=3)
    try:
        pool.wait(timeout=10)
        taken = [pool.getconn() for _ in range(3)]
        for conn in taken:
            pool.putconn(conn)
        assert pool.getconn() is taken[-1]
        assert pool.getconn() is taken[-2]
    finally:
        pool.close()


def test_a_warm_connection_is_not_pinged_and_an_idle_one_is(database_url, tmp_path) -> None:
    pool = open_pool(database_url, min_size=1, max_size=1)
    trace = tmp_path / "libpq.trace"
    try:
        with trace.open("w") as out:
            with pool.connection() as conn:
                conn.pgconn.trace(out.fileno())
            with pool.connection() as again:  # back a moment ago: handed out as it is
                again.execute("SELECT 1")
            conn._pinglass_returned_at = time.monotonic() - CHECK_AFTER_IDLE_S - 1  # type: ignore[attr-defined]
            with pool.connection() as idle:  # idle past the threshold: pinged first
                idle.execute("SELECT 2")
                idle.pgconn.untrace()
    finally:
        pool.close()

    sent = [line for line in trace.read_text(errors="replace").splitlines() if "\tF\t" in line and "Query" in line]
    assert again is conn and idle is conn
    assert len(sent) == 3, sent  # SELECT 1, the ping (an empty query), SELECT 2
    assert "SELECT 1" in sent[0] and "SELECT 2" in sent[2] and "SELECT" not in sent[1], sent
