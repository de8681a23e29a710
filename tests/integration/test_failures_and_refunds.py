"""A photo the provider cannot make is retried as a new task up to three attempts; after that it is refunded
pro rata through T-Bank and the user is told (I2, I7). A job that cannot start is refunded in full."""

from __future__ import annotations

from typing import Any

import pytest

from db import jobs, payments, privacy
from db import refunds as refund_rows
from rules.catalog import parse_tiers
from sandbox.client import SandboxClient
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
from usecases import generation
from usecases.refunds import refund_job, settle_refund
from usecases.stars import STARS_FULL_REFUND, checkout_stars

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
        privacy.delete_references_of_avatars(conn, avatar_ids=[avatar["id"]])
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


def test_a_card_refund_reverses_the_inviters_share_in_its_own_transaction(services) -> None:
    inviter = make_user(services)
    user = make_user(services, referred_by=inviter["id"])
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")
    job = finished_job(services, payment, failed=3)

    refund = settle_refund(services, job)
    settle_refund(services, job)  # delivery re-run: nothing more is refunded or reversed

    expected_refund = 149900 * 3 // 23
    assert (refund["status"], refund["amount_kopecks"]) == ("succeeded", expected_refund)
    with services.pool.connection() as conn:
        earning = conn.execute("SELECT * FROM referral_earnings WHERE payment_id = %s", (payment["id"],)).fetchone()
        reversals = conn.execute("SELECT * FROM referral_reversals").fetchall()
    assert earning["amount_kopecks"] == 14990
    assert [(r["refund_id"], r["amount_kopecks"]) for r in reversals] == [(refund["id"], earning["reversed_kopecks"])]
    assert earning["reversed_kopecks"] == 14990 - (149900 - expected_refund) * 10 // 100  # 10 % of what was kept


def test_a_stars_job_is_settled_by_the_stars_rail_never_at_tbank(services, settings, live_web) -> None:
    services.telegram.set_webhook(f"{live_web}/webhooks/telegram", settings.telegram_webhook_secret)
    telegram = SandboxClient.from_settings(settings).telegram
    user = make_user(services)
    avatar = make_avatar(services, user)
    payment = checkout_stars(services.pool, services.telegram, settings, user_id=user["id"], avatar_id=avatar["id"],
                             style_id="business", tier=parse_tiers(settings.tiers)["starter"])
    assert telegram.pay_invoice(payment["payment_url"], user=user["telegram_id"]) == "paid"
    with services.pool.connection() as conn:
        payment = payments.get(conn, id=payment["id"])
    job = finished_job(services, payment, failed=7)

    refund = refund_job(services, job_id=job["id"])
    again = refund_job(services, job_id=job["id"])

    assert (refund["reason"], refund["status"], again["id"]) == (STARS_FULL_REFUND, "succeeded", refund["id"])
    assert telegram.refunds_of_charge(payment["telegram_payment_charge_id"]) == 1
    assert [r for r in refunds_at_bank_all(services) if r["method"] == "Cancel"] == []
    with services.pool.connection() as conn:  # told once, in Stars, by the Stars rail; no ruble notice
        notices = conn.execute("SELECT * FROM deliveries WHERE job_id = %s AND kind = 'notice'", (job["id"],)
                               ).fetchall()
    assert notices == []


def finished_job(services, payment: dict[str, Any], *, failed: int) -> dict[str, Any]:
    """The payment's job started (the referral credited as consume_payment does) with its first ``failed`` photos
    given up."""
    with services.pool.connection() as conn, conn.transaction():
        job = generation.start_job(conn, payment_id=payment["id"], referral_percent=10)
        for task in jobs.tasks_of_job(conn, job_id=job["id"])[:failed]:
            generation.give_up_task(conn, task=task, reason="test")
        return jobs.get_job(conn, id=job["id"])


def refunds_at_bank_all(services) -> list[dict[str, Any]]:
    return SandboxClient.from_settings(services.settings).tbank.state()["requests"]
