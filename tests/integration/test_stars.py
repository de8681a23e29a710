"""The Stars rail end to end against the Telegram fake: a purchase paid through the invoice (its
successful_payment duplicated) makes exactly one job and one album; a job that made nothing is refunded whole,
once; the missing portraits of a partial job become free portraits, shown by the API and redeemed into a credit
job that delivers (and whose own missing portrait is credited back); a charge whose update was dropped is applied
by reconciliation."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from db import jobs
from gateways.storage import photo_key
from rules.catalog import parse_tiers
from runtime.outcomes import Permanent
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import albums_in_chat, fast_kie, kie_faults, wait_for_job, wait_until
from tests.web.api_helpers import auth, png
from usecases import generation, refunds
from usecases.stars import apply_charge, checkout_stars, payload_for, reconcile_stars, settle_stars_refund

pytestmark = pytest.mark.scenario


@pytest.fixture
def telegram(services, settings, live_web) -> Any:
    """The Telegram fake, delivering updates to our webhook served at ``live_web``."""
    services.telegram.set_webhook(f"{live_web}/webhooks/telegram", settings.telegram_webhook_secret)
    return SandboxClient.from_settings(settings).telegram


def paid_stars_payment(services, telegram, user, avatar, *, tier: str = "standard") -> dict[str, Any]:
    """A Stars checkout paid by its owner through the fake's invoice (the real webhook round trip)."""
    chosen = parse_tiers(services.settings.tiers)[tier]
    payment = checkout_stars(services.pool, services.telegram, services.settings, user_id=user["id"],
                             avatar_id=avatar["id"], style_id="business", tier=chosen)
    assert telegram.pay_invoice(payment["payment_url"], user=user["telegram_id"]) == "paid"
    return payment_row(services, payment["id"])


def payment_row(services, payment_id: int) -> dict[str, Any]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT * FROM payments WHERE id = %s", (payment_id,)).fetchone()


def rows(services, sql: str, *args: Any) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute(sql, args).fetchall()


def finished_job(services, payment: dict[str, Any], *, stored: int) -> dict[str, Any]:
    """The payment's job as the pipeline leaves it: the first ``stored`` portraits made and in storage, every
    other slot given up, the job in ``delivering`` (what delivery hands to the refund)."""
    with services.pool.connection() as conn, conn.transaction():
        job = generation.start_job(conn, payment_id=payment["id"], referral_percent=10)
        tasks = jobs.tasks_of_job(conn, job_id=job["id"])
        for task in tasks[:stored]:
            jobs.move_task(conn, id=task["id"], seen="pending", new="submitting")
            jobs.move_task(conn, id=task["id"], seen="submitting", new="submitted", kie_task_id=uuid.uuid4().hex)
            jobs.move_task(conn, id=task["id"], seen="submitted", new="succeeded", result_url="http://x/y")
            data = png(job["id"] * 100 + task["prompt_index"])
            key = photo_key(job["id"], task["prompt_index"], secret=services.settings.callback_signing_key)
            services.storage.put(key, data, "image/png")
            generation.record_photo(conn, task=task, storage_key=key, sha256=uuid.uuid4().hex, width=48,
                                    height=48, size_bytes=len(data), content_type="image/png")
        for task in tasks[stored:]:
            generation.give_up_task(conn, task=task, reason="test")
        return jobs.get_job(conn, id=job["id"])


def bot_replies(services, chat_id: int) -> list[str]:
    return [r["args"][2] for r in rows(services, "SELECT args FROM outbox WHERE actor_name = 'send_bot_reply' "
                                                 "ORDER BY id") if r["args"][1] == chat_id]


def test_stars_purchase_with_a_duplicated_update_makes_one_job_and_one_album(services, worker, telegram) -> None:
    fast_kie(services)
    user = make_user(services)
    avatar = make_avatar(services, user)
    telegram.fail(method="successful_payment", error_code="duplicate")

    payment = paid_stars_payment(services, telegram, user, avatar, tier="starter")

    job = wait_for_job(services, payment_id=payment["id"])
    assert job["status"] == "delivered" and job["photos_stored"] == 7
    assert rows(services, "SELECT count(*) AS n FROM generation_jobs")[0]["n"] == 1
    assert wait_until(lambda: sum(len(a) for a in albums_in_chat(services, user["telegram_id"])) == 7,
                      what="the album in the chat")
    paid = payment_row(services, payment["id"])
    assert paid["status"] == "confirmed" and paid["consumed"] and paid["rail"] == "stars"


def test_a_stars_job_that_made_nothing_is_refunded_whole_once(services, telegram) -> None:
    user = make_user(services)
    payment = paid_stars_payment(services, telegram, user, make_avatar(services, user))
    job = finished_job(services, payment, stored=0)

    first = settle_stars_refund(services, job, payment)
    second = settle_stars_refund(services, job, payment)

    assert first["status"] == "succeeded" and second["id"] == first["id"]
    assert first["amount_kopecks"] == payment["amount_kopecks"] and first["photos_refunded"] == 15
    assert telegram.refunds_of_charge(payment["telegram_payment_charge_id"]) == 1
    paid = payment_row(services, payment["id"])
    assert paid["status"] == "refunded" and paid["refunded_kopecks"] == paid["amount_kopecks"]
    assert [text for text in bot_replies(services, user["telegram_id"]) if "⭐" in text] == [
        "Не удалось создать портреты (15 из 15). Мы вернули 500\u00a0⭐ на ваш баланс Telegram Stars."]
    assert rows(services, "SELECT count(*) AS n FROM portrait_credits")[0]["n"] == 0


def test_a_stars_refund_telegram_refused_stays_refused_until_an_operator_retries_it(services, telegram) -> None:
    user = make_user(services)
    payment = paid_stars_payment(services, telegram, user, make_avatar(services, user))
    job = finished_job(services, payment, stored=0)
    telegram.fail(method="refundStarPayment", error_code=400, times=1)

    with pytest.raises(Permanent):
        refunds.settle_refund(services, job)  # refused: failed, alerted, not retried by itself
    assert settle_stars_refund(services, job, payment)["status"] == "failed"
    assert telegram.refunds_of_charge(payment["telegram_payment_charge_id"]) == 0

    retried = refunds.refund_job(services, job_id=job["id"])  # the operator's retry (workers.replay refund)

    assert retried["status"] == "succeeded"
    assert telegram.refunds_of_charge(payment["telegram_payment_charge_id"]) == 1
    assert payment_row(services, payment["id"])["status"] == "refunded"
    kinds = [a["kind"] for a in rows(services, "SELECT kind FROM admin_alerts ORDER BY id")]
    assert kinds == ["refund_failed", "refund"]


def test_partial_stars_job_credits_free_portraits_that_are_redeemed_into_a_delivered_job(
        services, client, settings, telegram, request) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    payment = paid_stars_payment(services, telegram, user, avatar, tier="starter")
    job = finished_job(services, payment, stored=4)
    headers = auth(settings, user)

    assert settle_stars_refund(services, job, payment) is None
    assert settle_stars_refund(services, job, payment) is None  # delivery re-run: granted once

    shown = client.get("/api/v1/credits", headers=headers).get_json()
    assert shown["balance"] == 3
    assert [(h["job_id"], h["photos"], h["kind"]) for h in shown["history"]] == [(job["id"], 3, "granted")]
    assert telegram.refunds_of_charge(payment["telegram_payment_charge_id"]) == 0
    [notice] = bot_replies(services, user["telegram_id"])
    assert notice.startswith("Не удалось создать 3 портрета из 7. Мы начислили вам 3 бесплатных портрета")

    with services.pool.connection() as conn:  # as delivery ends it (its albums are not this test's subject)
        jobs.move_job(conn, id=job["id"], new="delivered_partial")
    request.getfixturevalue("worker")
    fast_kie(services)
    kie_faults(services, [{"method": "task", "match": "[#3]", "times": 3}])  # the credit job's third slot fails
    redeemed = client.post("/api/v1/credits/redeem", headers=headers,
                           json={"avatar_id": avatar["id"], "style_id": "cinematic"})
    assert redeemed.status_code == 201, redeemed.get_json()
    assert redeemed.get_json()["photos"] == 3
    again = client.post("/api/v1/credits/redeem", headers=headers,
                        json={"avatar_id": avatar["id"], "style_id": "cinematic"})
    assert again.status_code == 422 and again.get_json()["error"]["code"] == "NO_CREDITS"

    credit_job = wait_for_job(services, job_id=redeemed.get_json()["job_id"])
    assert credit_job["kind"] == "credit" and credit_job["payment_id"] is None
    assert (credit_job["status"], credit_job["photos_stored"], credit_job["photos_failed"]) == (
        "delivered_partial", 2, 1)
    assert wait_until(lambda: [len(a) for a in albums_in_chat(services, user["telegram_id"])] == [2],
                      what="the credit job's album")
    after = client.get("/api/v1/credits", headers=headers).get_json()
    assert after["balance"] == 1  # its own missing portrait is owed again
    assert [(h["job_id"], h["photos"], h["kind"]) for h in after["history"]] == [
        (credit_job["id"], 1, "granted"), (credit_job["id"], 3, "spent"), (job["id"], 3, "granted")]


def test_someone_elses_avatar_cannot_redeem_credits(services, client, settings) -> None:
    owner, stranger = make_user(services), make_user(services)
    avatar = make_avatar(services, owner)
    response = client.post("/api/v1/credits/redeem", headers=auth(settings, stranger),
                           json={"avatar_id": avatar["id"], "style_id": "business"})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "NO_CREDITS"
    with services.pool.connection() as conn:
        conn.execute("INSERT INTO portrait_credit_balances (user_id, balance) VALUES (%s, 2)", (stranger["id"],))
    response = client.post("/api/v1/credits/redeem", headers=auth(settings, stranger),
                           json={"avatar_id": avatar["id"], "style_id": "business"})
    assert response.status_code == 404
    assert rows(services, "SELECT balance FROM portrait_credit_balances WHERE user_id = %s",
                stranger["id"]) == [{"balance": 2}]


def test_a_charge_whose_update_was_dropped_is_applied_by_reconciliation(services, telegram) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    telegram.fail(method="successful_payment", error_code="drop")

    payment = paid_stars_payment(services, telegram, user, avatar)
    assert payment["status"] == "new" and payment["telegram_payment_charge_id"] is None

    assert reconcile_stars(services) == 1
    assert reconcile_stars(services) == 0

    applied = payment_row(services, payment["id"])
    [charge] = [t for t in telegram.star_transactions() if "source" in t]
    assert applied["status"] == "confirmed" and applied["telegram_payment_charge_id"] == charge["id"]
    assert applied["telegram_payer_id"] == user["telegram_id"]
    consumes = rows(services, "SELECT args FROM outbox WHERE actor_name = 'consume_payment'")
    assert [c["args"] for c in consumes] == [[payment["id"]]]


def test_reconciliation_asks_nothing_while_no_stars_payment_is_open(services, settings) -> None:
    sandbox = SandboxClient.from_settings(settings).telegram
    assert reconcile_stars(services) == 0
    assert sandbox.state()["call_counts"].get("getStarTransactions") is None


def test_a_lost_charge_of_a_payment_expired_meanwhile_goes_back_not_started(services, telegram) -> None:
    user = make_user(services)
    telegram.fail(method="successful_payment", error_code="drop")
    payment = paid_stars_payment(services, telegram, user, make_avatar(services, user))
    with services.pool.connection() as conn:
        conn.execute("UPDATE payments SET status = 'expired' WHERE id = %s", (payment["id"],))

    assert reconcile_stars(services) == 0
    assert reconcile_stars(services) == 0  # found again: still returned once

    [charge] = [t for t in telegram.star_transactions() if "source" in t]
    assert [a["kind"] for a in rows(services, "SELECT kind FROM admin_alerts")] == ["stars_charge_returned"]
    returned = rows(services, "SELECT args FROM outbox WHERE actor_name = 'refund_stray_charge'")
    assert [r["args"] for r in returned] == [[payment["id"], user["telegram_id"], charge["id"]]]
    assert rows(services, "SELECT id FROM outbox WHERE actor_name = 'consume_payment'") == []


def test_an_invoice_paid_twice_gives_the_second_charge_back_at_once(services, telegram, worker) -> None:
    """Two pre-checkouts approved before either charge arrives (the invoice opened twice): the second charge
    goes back whole, automatically, the person is told once, and the admins see it — nobody pays twice."""
    user = make_user(services)
    chosen = parse_tiers(services.settings.tiers)["standard"]
    payment = checkout_stars(services.pool, services.telegram, services.settings, user_id=user["id"],
                             avatar_id=make_avatar(services, user)["id"], style_id="business", tier=chosen)
    assert [telegram.pay_invoice(payment["payment_url"], user=user["telegram_id"], wait=False)
            for _ in range(2)] == ["pending", "pending"]

    def charges() -> list[dict[str, Any]]:
        return [t for t in telegram.star_transactions() if "source" in t]

    wait_until(lambda: len(charges()) == 2 or None, what="both charges at Telegram")
    kept = payment_row(services, payment["id"])["telegram_payment_charge_id"]
    [stray] = [c["id"] for c in charges() if c["id"] != kept]
    wait_until(lambda: telegram.refunds_of_charge(stray) == 1 or None, what="the stray charge refunded")

    assert telegram.refunds_of_charge(kept) == 0
    assert payment_row(services, payment["id"])["status"] == "confirmed"
    assert [a["kind"] for a in rows(services, "SELECT kind FROM admin_alerts WHERE kind LIKE 'stars%%'")] == [
        "stars_charge_returned"]
    told = wait_until(lambda: [m["text"] for m in telegram.messages(user["telegram_id"])
                               if "повторный платёж" in m.get("text", "")] or None, what="the person told")
    assert told == ["Этот заказ уже оплачен или закрыт, поэтому повторный платёж — 500\u00a0⭐ — мы вернули на ваш "
                    "баланс Telegram Stars."]


def test_one_charge_reported_twice_at_the_same_moment_is_kept_not_returned(services, telegram) -> None:
    """Found by the chaos run on RabbitMQ: the successful_payment update and a second report of the same charge
    (a duplicated update, or the reconciliation) in two transactions at once. The second read the payment before
    the first committed, then found the charge slot taken and returned the charge as 'paid already': the person
    got the album and the Stars back. Here the second report runs while the first holds the row, uncommitted."""
    user = make_user(services)
    chosen = parse_tiers(services.settings.tiers)["starter"]
    payment = checkout_stars(services.pool, services.telegram, services.settings, user_id=user["id"],
                             avatar_id=make_avatar(services, user)["id"], style_id="business", tier=chosen)
    row = payment_row(services, payment["id"])
    charge = dict(payload=payload_for(services.settings.callback_signing_key, row), charge_id="stxCHARGE-1",
                  currency="XTR", amount=row["amount_stars"], payer_id=user["telegram_id"])
    second: dict[str, str] = {}

    def report_again() -> None:
        with services.pool.connection() as conn, conn.transaction():
            second["outcome"] = apply_charge(conn, services.settings, **charge)

    with services.pool.connection() as first, first.transaction():
        assert apply_charge(first, services.settings, **charge) == "confirmed"
        racing = threading.Thread(target=report_again)
        racing.start()
        wait_until(lambda: rows(services, "SELECT 1 FROM pg_locks WHERE NOT granted") or None,
                   what="the second report waiting on the payment's row")
    racing.join(timeout=10)

    assert second["outcome"] == "duplicate"
    assert payment_row(services, payment["id"])["telegram_payment_charge_id"] == "stxCHARGE-1"
    assert rows(services, "SELECT kind FROM admin_alerts") == []
    assert rows(services, "SELECT 1 FROM outbox WHERE actor_name = 'refund_stray_charge'") == []
