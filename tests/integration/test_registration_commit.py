"""A user registered on first sight by the Mini App's auth (its own transaction) commits without waiting for the
disk — a crash can lose only a registration nothing durable depends on yet — while a registration inside a
caller's transaction (the bot's update, with its dedup row) leaves that transaction durable; a known user is one
read. Observed on the wire: libpq's trace of what the connection sent."""

from __future__ import annotations

from dataclasses import dataclass

from usecases.users import register_user


@dataclass(frozen=True)
class Profile:
    id: int
    username: str | None = "anna"
    first_name: str | None = "Анна"
    language_code: str | None = "ru"


def test_only_a_registration_of_its_own_commits_without_waiting(services, tmp_path) -> None:
    trace = tmp_path / "libpq.trace"
    with services.pool.connection() as conn, trace.open("w") as out:
        conn.pgconn.trace(out.fileno())
        try:
            first = register_user(conn, Profile(61_000_001))
            again = register_user(conn, Profile(61_000_001))
            with conn.transaction():  # a caller's transaction: the bot's update
                register_user(conn, Profile(61_000_002))
        finally:
            conn.pgconn.untrace()
        with conn.transaction():
            durable = conn.execute("SHOW synchronous_commit").fetchone()

    sent = trace.read_text(errors="replace")
    assert sent.count("synchronous_commit TO off") == 1, sent[-2000:]
    assert first["id"] == again["id"]
    assert durable["synchronous_commit"] == "on"  # SET LOCAL: nothing stays on the pooled connection
