"""The outbox relay publishes what units of work left behind, and one bad row never blocks the rest."""

from __future__ import annotations

from db import outbox
from workers.publisher import publish


def test_relay_skips_a_row_of_an_unknown_actor_and_publishes_the_rows_behind_it(services, broker) -> None:
    with services.pool.connection() as conn, conn.transaction():
        bad = outbox.send(conn, "actor_removed_by_a_deploy", 1)
        good = outbox.send(conn, "clean_up")
    broker.flush_all()

    assert publish(services.pool, broker, older_than_s=0, via="relay") == 1
    assert publish(services.pool, broker, older_than_s=0, via="relay") == 0  # nothing sent twice

    with services.pool.connection() as conn:
        published = {r["message_id"]: r["published_at"] is not None
                     for r in conn.execute("SELECT message_id, published_at FROM outbox")}
    assert published == {bad: False, good: True}
    queued = services.redis.lrange(f"{services.settings.broker_namespace}:ops", 0, -1)
    assert len(queued) == 1
    broker.flush_all()
