"""At-least-once delivery: every message of a job delivered twice changes nothing (no duplicate photo, album,
referral credit or refund)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from db import deliveries
from db import photos as photo_rows
from db import refunds as refund_rows
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import (
    albums_in_chat,
    chat_messages,
    fast_kie,
    kie_faults,
    refunds_at_bank,
    wait_for_job,
)

pytestmark = pytest.mark.scenario


def _republish_everything_once(database_url: str, stop: threading.Event) -> None:
    """What a relay does after a crash between enqueue and marking: publish rows again, same message ids."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        while not stop.is_set():
            conn.execute("UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL AND attempts = 1")
            stop.wait(0.15)


def _not_yet_doubled(services) -> int:
    with services.pool.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM outbox WHERE attempts < 2").fetchone()["n"]


def test_every_message_delivered_twice_changes_nothing(services, worker, database_url) -> None:
    fast_kie(services)
    kie_faults(services, [{"method": "task", "match": "[#3]", "times": 3}])
    inviter = make_user(services)
    user = make_user(services, referred_by=inviter["id"])
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="starter")
    stop = threading.Event()
    doubler = threading.Thread(target=_republish_everything_once, args=(database_url, stop), daemon=True)
    doubler.start()
    try:
        job = wait_for_job(services, payment_id=payment["id"])
        # The job's last messages (the refund's admin alert, ...) are queued as it ends: let them be doubled too.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _not_yet_doubled(services):
            time.sleep(0.1)
    finally:
        stop.set()
        doubler.join(timeout=5)

    with services.pool.connection() as conn:
        photos = photo_rows.photos_of_job(conn, job_id=job["id"])
        refunds = refund_rows.refunds_of_job(conn, job_id=job["id"])
        chunks = deliveries.chunks_of_job(conn, job_id=job["id"])
        doubled = conn.execute("SELECT count(*) AS n FROM outbox WHERE attempts >= 2").fetchone()["n"]
        total = conn.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"]
        credits = conn.execute("SELECT amount_kopecks FROM referral_earnings").fetchall()
        job_count = conn.execute("SELECT count(*) AS n FROM generation_jobs").fetchone()["n"]
    assert doubled >= total - 3, f"the duplication harness did not double the messages ({doubled}/{total})"
    assert job["status"] == "delivered_partial" and job_count == 1
    assert len(photos) == 6 and len({p["prompt_index"] for p in photos}) == 6
    assert [len(album) for album in albums_in_chat(services, user["telegram_id"])] == [6]
    assert [r["amount_kopecks"] for r in refunds] == [49900 // 7]
    assert [r["amount"] for r in refunds_at_bank(services, payment["provider_payment_id"])] == [49900 // 7]
    assert [c["amount_kopecks"] for c in credits] == [4990]
    assert sorted(c["kind"] for c in chunks) == ["album", "notice", "summary"]
    texts = [m.get("text") for m in chat_messages(services, user["telegram_id"]) if m.get("text")]
    assert len(texts) == 2  # the summary with buttons and the refund notice, once each
