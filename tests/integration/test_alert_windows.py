"""Issue 10 item 11: admin alerts are deduplicated by actor and cause per window (a storm of dead letters is one
alert, its repeats counted), and Kie out of credits alerts again at the next incident (it had a fixed key, so it
could fire once per database lifetime)."""

from __future__ import annotations

import time

from usecases import alerts as alert_cases
from usecases import dead_letters, generation


def _dead_letter(conn, n: int, actor: str, error: str) -> None:
    dead_letters.record(conn, message_id=f"m-{actor}-{n}-{error[:5]}", actor=actor, queue_name="default",
                        payload={"args": [n]}, error=error, traceback=None, attempts=5)


def _alerts(conn, kind: str) -> list[dict]:
    return conn.execute("SELECT * FROM admin_alerts WHERE kind = %s ORDER BY id", (kind,)).fetchall()


def _announcements(conn) -> int:
    return conn.execute("SELECT count(*) AS n FROM outbox WHERE actor_name = 'notify_admin'").fetchone()["n"]


def test_a_dead_letter_storm_is_one_alert_per_actor_and_cause(services) -> None:
    with services.pool.connection() as conn:
        for n in range(40):
            _dead_letter(conn, n, "store_photo", "StorageError: s3 put: ConnectTimeout")
        for n in range(10):
            _dead_letter(conn, n, "poll_task", "KieError: recordInfo: HTTP 500")
        _dead_letter(conn, 0, "store_photo", "KieError: download: HTTP 404")
        rows = _alerts(conn, "dead_letter")
        letters = conn.execute("SELECT count(*) AS n FROM dead_letters").fetchone()["n"]
        announced = _announcements(conn)
    assert letters == 51  # every letter is kept; only the alerts are deduplicated
    assert [r["details"]["group"] for r in rows] == ["dead_letter:store_photo:StorageError",
                                                      "dead_letter:poll_task:KieError",
                                                      "dead_letter:store_photo:KieError"]
    assert [r["details"].get("repeats", 0) for r in rows] == [39, 9, 0]
    assert announced == 3


def test_kie_out_of_credits_alerts_again_at_the_next_incident(services, monkeypatch) -> None:
    monkeypatch.setitem(alert_cases.WINDOWS, "kie_no_credits", 1.0)  # an incident window of 1 s (default 1 h)
    with services.pool.connection() as conn:
        for _ in range(5):  # the first incident: every worker sees "no credits"
            generation.return_to_pool(conn, task={"id": -1}, out_of_credits=True)
        conn.commit()
        assert len(_alerts(conn, "kie_no_credits")) == 1
        time.sleep(1.2)
        generation.return_to_pool(conn, task={"id": -1}, out_of_credits=True)  # credits ran out again
        conn.commit()
        assert len(_alerts(conn, "kie_no_credits")) == 2
