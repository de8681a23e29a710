"""Migrations round-trip, and the schema's guards hold under real concurrency (I1)."""

from __future__ import annotations

import threading

import psycopg
import pytest

from db import jobs, payments
from db.migrate import applied_versions, discover, migrate_down, migrate_up
from tests.factories import make_avatar, make_paid_payment, make_user
from usecases import generation
from usecases.errors import Refused

EXPECTED_TABLES = {
    "users", "avatars", "reference_photos", "payments", "payment_events", "referral_earnings", "generation_jobs",
    "generation_tasks", "generated_photos", "deliveries", "refunds", "processed_messages", "outbox", "dead_letters",
    "admin_alerts", "shared_galleries", "idempotency_keys", "telegram_updates", "schema_migrations",
}
NAMED_CONSTRAINTS = {
    "generation_jobs_payment_id_key", "generated_photos_job_index_key", "deliveries_job_chunk_key",
    "referral_earnings_payment_key", "payment_events_payment_status_key", "payments_refund_within_amount",
    "processed_messages_pkey", "outbox_message_id_key", "refunds_external_request_id_key",
}


def _schema(url: str) -> tuple[set[str], set[str]]:
    with psycopg.connect(url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        constraints = {r[0] for r in conn.execute(
            "SELECT conname FROM pg_constraint JOIN pg_namespace n ON n.oid = connamespace "
            "WHERE n.nspname = 'public'")}
    return tables, constraints


def test_migrations_apply_roll_back_and_apply_again(database_url: str) -> None:
    every = [m.version for m in discover()]
    tables, constraints = _schema(database_url)
    assert EXPECTED_TABLES <= tables and NAMED_CONSTRAINTS <= constraints

    assert migrate_down(database_url) == list(reversed(every))
    tables_after_down, _ = _schema(database_url)
    assert tables_after_down == {"schema_migrations"}

    assert migrate_up(database_url) == every
    assert _schema(database_url) == (tables, constraints)
    with psycopg.connect(database_url) as conn:
        assert applied_versions(conn) == every
    assert migrate_up(database_url) == []


@pytest.mark.parametrize("racers", [50])
def test_fifty_simultaneous_consumes_of_one_payment_create_exactly_one_job(services, racers: int) -> None:
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), confirm=False)
    with services.pool.connection() as conn:
        payments.move_status(conn, id=payment["id"], new="confirmed")
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race() -> None:
        with psycopg.connect(services.settings.database_url, autocommit=True,
                             row_factory=psycopg.rows.dict_row) as conn:
            barrier.wait()
            try:
                with conn.transaction():
                    generation.start_job(conn, payment_id=payment["id"], user_id=user["id"],
                                         referral_percent=10)
                result = "created"
            except Refused as refused:
                result = refused.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["PAYMENT_CONSUMED"] * (racers - 1) + ["created"]
    with services.pool.connection() as conn:
        job = jobs.get_job_by_payment(conn, payment_id=payment["id"])
        count = conn.execute("SELECT count(*) AS n FROM generation_jobs").fetchone()["n"]
        tasks = jobs.tasks_of_job(conn, job_id=job["id"])
    assert count == 1 and len(tasks) == 7
