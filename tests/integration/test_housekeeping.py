"""The scheduler's clean-up forgets dedup rows, published outbox rows and handled bot updates once no
redelivery can still arrive, and keeps everything younger."""

from __future__ import annotations

from actors.ops import clean_up


def test_clean_up_removes_only_what_is_old_enough(services) -> None:
    with services.pool.connection() as conn:
        conn.execute("INSERT INTO processed_messages (message_id, actor, processed_at) VALUES "
                     "('old', 'x', now() - interval '8 days'), ('new', 'x', now())")
        conn.execute("INSERT INTO outbox (message_id, actor_name, published_at, created_at) VALUES "
                     "('o-old', 'clean_up', now() - interval '2 days', now() - interval '2 days'), "
                     "('o-new', 'clean_up', now(), now()), "
                     "('o-unpublished', 'clean_up', NULL, now() - interval '9 days')")
        conn.execute("INSERT INTO telegram_updates (update_id, raw, handled_at) VALUES "
                     "(1, '{}', now() - interval '4 days'), (2, '{}', now()), (3, '{}', NULL)")

    clean_up.fn()

    with services.pool.connection() as conn:
        processed = [r["message_id"] for r in conn.execute("SELECT message_id FROM processed_messages")]
        outbox = sorted(r["message_id"] for r in conn.execute("SELECT message_id FROM outbox"))
        updates = sorted(r["update_id"] for r in conn.execute("SELECT update_id FROM telegram_updates"))
    assert processed == ["new"]
    assert outbox == ["o-new", "o-unpublished"]  # never drop a message that was not sent
    assert updates == [2, 3]


def test_reconcile_expires_checkouts_that_never_got_a_payment_link(services) -> None:
    from actors.ops import reconcile_payments
    from tests.factories import make_avatar, make_user

    user = make_user(services)
    avatar = make_avatar(services, user, references=0)
    with services.pool.connection() as conn:
        for order, ttl in (("stale", -1), ("fresh", 3600)):
            conn.execute("INSERT INTO payments (user_id, avatar_id, style_id, tier, photo_count, amount_kopecks, "
                         "order_id, expires_at) VALUES (%s, %s, 'business', 'starter', 7, 49900, %s, "
                         "now() + make_interval(secs => %s))", (user["id"], avatar["id"], order, ttl))

    reconcile_payments.fn()

    with services.pool.connection() as conn:
        rows = conn.execute("SELECT order_id, status FROM payments").fetchall()
    statuses = {row["order_id"]: row["status"] for row in rows}
    assert statuses == {"stale": "expired", "fresh": "new"}
