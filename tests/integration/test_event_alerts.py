"""Issue 11, "Alerts": the conditions a message reports as it happens — a dead letter, a refund, a payment not
final after 24 h, a job past its deadline — each reach the admins' chat (the Telegram fake) once, within 15 s,
through the outbox and the ``notify_admin`` actor of a running worker; their repeats within the incident do not
flood the chat, and the next incident is told again. (The watchdog's own conditions are tests/integration/
test_watchdog.py; this file is about the alerts raised by the fleet's own work.)"""

from __future__ import annotations

import time
import uuid

from db import jobs
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import chat_messages
from usecases import dead_letters, generation, payment_upkeep
from usecases.refunds import settle_refund
from usecases.sweeps import end_overdue_jobs

TOLD_WITHIN_S = 15.0


def told(services, kind: str) -> list[str]:
    texts = [m.get("text", "") for m in chat_messages(services, services.settings.admin_telegram_chat_id)]
    return [t for t in texts if t.startswith("⚠️") and f"] {kind}:" in t]


def wait_told(services, kind: str, n: int, since: float) -> float:
    """Seconds until the chat holds ``n`` alerts of ``kind``; fails past 15 s."""
    while len(told(services, kind)) < n:
        assert time.monotonic() - since < TOLD_WITHIN_S, f"{kind}: not told within {TOLD_WITHIN_S} s"
        time.sleep(0.1)
    return time.monotonic() - since


def started_job(services, *, failed: int, tier: str = "starter") -> dict:
    """A paid job whose first ``failed`` photos were given up (generation is paused, so nothing else runs)."""
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier=tier, confirm=False)
    with services.pool.connection() as conn, conn.transaction():  # confirmed as the webhook would, minus its message
        conn.execute("UPDATE payments SET status = 'confirmed' WHERE id = %s", (payment["id"],))
        job = generation.start_job(conn, payment_id=payment["id"], referral_percent=10)
        for task in jobs.tasks_of_job(conn, job_id=job["id"])[:failed]:
            generation.give_up_task(conn, task=task, reason="test")
        return jobs.get_job(conn, id=job["id"])


def test_each_event_condition_is_told_once_within_15_s_and_again_at_the_next_incident(services, worker) -> None:
    with services.pool.connection() as conn:
        generation.set_generation_paused(conn, paused=True, by="test", reason="alerts only")
    seconds: dict[str, float] = {}

    # A dead letter: three of the same cause are one alert (its window), another actor's is the next incident.
    since = time.monotonic()
    with services.pool.connection() as conn:
        for n in range(3):
            dead_letters.record(conn, message_id=f"ev-{n}", actor="store_photo", queue_name="default",
                                payload={"args": [n]}, error="StorageError: s3 put: ConnectTimeout", traceback=None,
                                attempts=5)
    seconds["dead_letter"] = wait_told(services, "dead_letter", 1, since)
    with services.pool.connection() as conn:
        dead_letters.record(conn, message_id="ev-other", actor="poll_task", queue_name="default",
                            payload={"args": [9]}, error="KieError: recordInfo: HTTP 500", traceback=None, attempts=5)
    wait_told(services, "dead_letter", 2, time.monotonic())

    # A refund (a card job that made 2 of its 7 photos less): settled twice, told once.
    job = started_job(services, failed=2)
    since = time.monotonic()
    settle_refund(services, job)
    settle_refund(services, job)
    seconds["refund"] = wait_told(services, "refund", 1, since)

    # A payment not final after 24 h: the upkeep finds it on each pass, tells it once; the next one is told too.
    def stuck_payment() -> None:  # a Stars invoice nobody paid nor closed (no bank to ask: the rotation skips it)
        user = make_user(services)
        avatar = make_avatar(services, user, references=0)
        with services.pool.connection() as conn:
            conn.execute("INSERT INTO payments (user_id, avatar_id, style_id, tier, photo_count, amount_kopecks, "
                         "amount_stars, rail, order_id, expires_at, created_at) VALUES (%s, %s, 'business', "
                         "'starter', 7, 49900, 250, 'stars', %s, now() + interval '1 day', "
                         "now() - interval '25 hours')",
                         (user["id"], avatar["id"], uuid.uuid4().hex))

    stuck_payment()
    since = time.monotonic()
    payment_upkeep.alert_stuck(services)
    payment_upkeep.alert_stuck(services)
    seconds["payment_stuck"] = wait_told(services, "payment_stuck", 1, since)
    stuck_payment()
    payment_upkeep.alert_stuck(services)
    wait_told(services, "payment_stuck", 2, time.monotonic())

    # A job past its deadline: the sweep ends it and tells it once however often it passes.
    late = started_job(services, failed=0)
    with services.pool.connection() as conn:
        conn.execute("UPDATE generation_jobs SET created_at = now() - interval '2 hours' WHERE id = %s",
                     (late["id"],))
    since = time.monotonic()
    for _ in range(2):
        with services.pool.connection() as conn, conn.transaction():
            end_overdue_jobs(conn, deadline_s=3600)
    seconds["job_overdue"] = wait_told(services, "job_overdue", 1, since)

    time.sleep(2.0)  # anything repeated would have been told by now
    counts = {kind: len(told(services, kind)) for kind in ("dead_letter", "refund", "payment_stuck", "job_overdue")}
    assert counts == {"dead_letter": 2, "refund": 1, "payment_stuck": 2, "job_overdue": 1}, counts
    print("told within (s):", {k: round(v, 2) for k, v in seconds.items()})
