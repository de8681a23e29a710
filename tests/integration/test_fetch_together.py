"""``db.queries.fetch_together``: several statements as one transaction in one round trip (BEGIN, the statements
and COMMIT sent together, one sync), each statement's rows in order; a failing one leaves nothing written and the
connection ready; inside the caller's transaction it is a savepoint. Real PostgreSQL, libpq's wire trace."""

from __future__ import annotations

import pytest
from psycopg.pq import TransactionStatus

from db import users
from db.errors import DatabaseError
from db.queries import fetch_together
from tests.factories import make_user


def _sent_and_received(trace: str) -> list[tuple[str, str]]:
    """(direction, message) per line of a libpq trace: F the client sent, B the server answered."""
    return [(parts[1], parts[3]) for parts in (line.split("\t") for line in trace.splitlines()) if len(parts) > 3]


def test_statements_go_out_together_and_come_back_in_order(services, tmp_path) -> None:
    first, second = make_user(services), make_user(services)
    trace = tmp_path / "libpq.trace"
    with services.pool.connection() as conn, trace.open("w") as out:
        conn.pgconn.trace(out.fileno())
        try:
            rows = fetch_together(conn, [("users.get_user", {"id": second["id"]}),
                                         ("users.commit_without_waiting", {}),
                                         ("users.get_user", {"id": first["id"]})])
        finally:
            conn.pgconn.untrace()
        assert conn.info.transaction_status == TransactionStatus.IDLE

    assert [[r["id"] for r in found] for found in rows] == [[second["id"]], [], [first["id"]]]
    messages = _sent_and_received(trace.read_text(errors="replace"))
    first_answer = next(i for i, (direction, _) in enumerate(messages) if direction == "B")
    assert [m for d, m in messages[:first_answer] if m == "Sync"] == ["Sync"]  # everything, then one sync
    assert all(direction == "B" for direction, _ in messages[first_answer:])  # then only answers: one round trip
    assert [m for _, m in messages].count("ReadyForQuery") == 1


def test_a_failing_statement_leaves_nothing_written_and_the_connection_ready(services) -> None:
    with services.pool.connection() as conn:
        params = {"telegram_id": 66_000_001, "username": "x", "first_name": "X", "language_code": "ru",
                  "referral_code": "dup-code", "referred_by": None}
        with pytest.raises(DatabaseError):  # the second insert repeats the first's referral code
            fetch_together(conn, [("users.upsert_user", params),
                                  ("users.upsert_user", {**params, "telegram_id": 66_000_002})])
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert users.get_user_by_telegram_id(conn, telegram_id=66_000_001) is None
        assert fetch_together(conn, [("users.get_user_by_telegram_id", {"telegram_id": 66_000_001})]) == [[]]


def test_inside_a_transaction_it_is_part_of_it(services) -> None:
    with services.pool.connection() as conn:
        with conn.transaction(force_rollback=True):
            params = {"telegram_id": 66_000_003, "username": "y", "first_name": "Y", "language_code": "ru",
                      "referral_code": "code-66-3", "referred_by": None}
            (written,), = fetch_together(conn, [("users.upsert_user", params)])
            assert users.get_user(conn, id=written["id"]) is not None
        assert users.get_user_by_telegram_id(conn, telegram_id=66_000_003) is None  # rolled back with the caller's
