"""A photo the provider cannot make is retried as a new task up to three attempts; after that it is refunded
pro rata through T-Bank and the user is told (I2, I7). A job that cannot start is refunded in full."""

from __future__ import annotations

import pytest

from db import avatars, jobs, payments
from db import refunds as refund_rows
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import (
    albums_in_chat,
    chat_messages,
    fast_kie,
    kie_faults,
    refunds_at_bank,
    wait_for_job,
    wait_until,
)

pytestmark = pytest.mark.scenario


def test_photo_failing_twice_then_succeeding_still_gives_all_photos(services, worker) -> None:
    fast_kie(services)
    kie_faults(services, [{"method": "task", "match": "[#6]", "times": 2}])
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered"
    assert job["photos_stored"] == 23
    with services.pool.connection() as conn:
        attempts = [t for t in jobs.tasks_of_job(conn, job_id=job["id"]) if t["prompt_index"] == 5]
        refunds = refund_rows.refunds_of_job(conn, job_id=job["id"])
    assert [t["attempt"] for t in attempts] == [1, 2, 3]
    assert [t["status"] for t in attempts] == ["failed", "failed", "stored"]
    assert refunds == []
    assert sum(len(a) for a in albums_in_chat(services, user["telegram_id"])) == 23


def test_photo_failing_three_times_is_refunded_pro_rata_and_the_user_told(services, worker) -> None:
    fast_kie(services)
    kie_faults(services, [{"method": "task", "match": "[#6]", "times": 3}])
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "delivered_partial"
    assert (job["photos_stored"], job["photos_failed"]) == (22, 1)
    expected = 149900 * 1 // 23
    with services.pool.connection() as conn:
        refunds = refund_rows.refunds_of_job(conn, job_id=job["id"])
        paid = payments.get(conn, id=payment["id"])
    assert [(r["amount_kopecks"], r["status"], r["photos_refunded"]) for r in refunds] == [(expected, "succeeded", 1)]
    assert paid["refunded_kopecks"] == expected and paid["status"] == "partially_refunded"
    at_bank = refunds_at_bank(services, payment["provider_payment_id"])
    assert [r["amount"] for r in at_bank] == [expected]
    assert sum(len(a) for a in albums_in_chat(services, user["telegram_id"])) == 22
    texts = [m.get("text") or "" for m in chat_messages(services, user["telegram_id"])]
    rubles = f"{expected // 100},{expected % 100:02d}\u00a0₽"
    assert f"Не удалось создать 1 портрет из 23. Мы вернули {rubles} на вашу карту." in texts


def test_job_whose_avatar_lost_its_references_is_refunded_in_full(services, worker) -> None:
    fast_kie(services)
    inviter = make_user(services)
    user = make_user(services, referred_by=inviter["id"])
    avatar = make_avatar(services, user)
    with services.pool.connection() as conn:
        avatars.delete_references(conn, avatar_id=avatar["id"])
    payment = make_paid_payment(services, user, avatar, tier="starter")

    job = wait_for_job(services, payment_id=payment["id"])

    assert job["status"] == "failed"

    def refunded():
        with services.pool.connection() as conn:
            row = payments.get(conn, id=payment["id"])
        return row if row["status"] == "refunded" else None

    paid = wait_until(refunded, what="the full refund")
    assert paid["refunded_kopecks"] == 49900 and paid["status"] == "refunded"
    assert [r["amount"] for r in refunds_at_bank(services, payment["provider_payment_id"])] == [49900]
    with services.pool.connection() as conn:  # refunded in full: the inviter earns nothing from it
        assert conn.execute("SELECT count(*) AS n FROM referral_earnings").fetchone()["n"] == 0
