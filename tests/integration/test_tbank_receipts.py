"""54-FZ receipts end to end against a T-Bank fake with an online cash register: the checkout asks for an e-mail,
Init carries a Receipt the bank accepts (and the bank refuses an Init without one, 309); a partial refund carries
the Receipt of the refunded part; the bank's RECEIPT notifications (the payment's and the refund's) reach our
webhook, are answered OK, are kept, and move nothing. With receipts off nothing changes. Our Init's PayType "O"
makes a two-stage terminal charge at once; an invalid-parameter refusal of a refund is not retried."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from db import jobs, payments
from db import refunds as refund_rows
from rules.catalog import parse_tiers
from runtime.outcomes import Permanent
from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import tbank_state, wait_until
from tests.web.api_helpers import auth
from usecases import generation
from usecases.errors import Refused
from usecases.payments import checkout, receipts_of_payment
from usecases.refunds import settle_refund

EMAIL = "Anna.Buyer@Example.COM"


@pytest.fixture
def settings(settings):
    """This module's fleet has receipts on (taxation "osn", VAT 20 %), and its T-Bank terminal a cash register."""
    SandboxClient.from_settings(settings).tbank.configure(cash_register=True)
    return dataclasses.replace(settings, tbank_receipts=True, tbank_taxation="osn", tbank_vat="vat20")


def buy(services, settings, *, tier: str = "premium", email: str | None = EMAIL) -> dict[str, Any]:
    user = make_user(services)
    avatar = make_avatar(services, user)
    return checkout(services.pool, services.tbank, settings, user_id=user["id"], avatar_id=avatar["id"],
                    style_id="business", tier=parse_tiers(settings.tiers)[tier], email=email)


def requests_of(services, method: str) -> list[dict[str, Any]]:
    return [r for r in tbank_state(services)["requests"] if r["method"] == method]


def status_of(services, payment: dict[str, Any]) -> str:
    with services.pool.connection() as conn:
        return payments.get(conn, id=payment["id"])["status"]


def job_with_failed_photos(services, payment: dict[str, Any], failed: int) -> dict[str, Any]:
    """The payment's job with its first ``failed`` photos given up (the rest still to make)."""
    with services.pool.connection() as conn, conn.transaction():
        job = generation.start_job(conn, payment_id=payment["id"], referral_percent=10)
        for task in jobs.tasks_of_job(conn, job_id=job["id"])[:failed]:
            generation.give_up_task(conn, task=task, reason="test")
        return jobs.get_job(conn, id=job["id"])


def delivered_receipts(services, payment: dict[str, Any]) -> list[dict[str, Any]]:
    notes = SandboxClient.from_settings(services.settings).tbank.notifications(payment["provider_payment_id"],
                                                                               "RECEIPT")
    return [n for n in notes if n["delivered"]]


def test_init_carries_the_orders_receipt_and_the_bank_accepts_it(services, settings) -> None:
    payment = buy(services, settings)

    assert payment["email"] == "Anna.Buyer@example.com" and payment["provider_payment_id"]
    (init,) = requests_of(services, "Init")
    assert init["answer"]["Success"] is True and init["body"]["PayType"] == "O"
    receipt = init["body"]["Receipt"]
    assert receipt["Email"] == payment["email"] and receipt["Taxation"] == "osn"
    (item,) = receipt["Items"]
    assert item == {"Name": "AI-портреты PinGlass, 23 шт.", "Price": 149900, "Quantity": 1, "Amount": 149900,
                    "Tax": "vat20", "PaymentMethod": "full_payment", "PaymentObject": "service"}


def test_the_cash_register_refuses_an_init_without_a_receipt(services, settings) -> None:
    receipts_off = dataclasses.replace(settings, tbank_receipts=False)  # a fleet configured wrong for its terminal
    with pytest.raises(Refused) as refused:
        buy(services, receipts_off)
    assert refused.value.code == "PAYMENT_PROVIDER_ERROR"
    (init,) = requests_of(services, "Init")
    assert "Receipt" not in init["body"] and init["answer"]["ErrorCode"] == "309"


@pytest.mark.parametrize(("email", "code"), [(None, "EMAIL_REQUIRED"), ("  ", "EMAIL_REQUIRED"),
                                             ("anna@", "INVALID_EMAIL"), ("anna example.com", "INVALID_EMAIL")])
def test_an_email_is_required_and_checked_before_anything_is_written(client, services, settings, email,
                                                                      code) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    body = {"avatar_id": avatar["id"], "style_id": "business", "tier": "starter",
            **({"email": email} if email is not None else {})}

    response = client.post("/api/v1/payments", headers=auth(settings, user), json=body)

    assert response.status_code == 422 and response.get_json()["error"]["code"] == code
    with services.pool.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM payments").fetchone()["n"] == 0
    assert requests_of(services, "Init") == []


def test_with_receipts_off_no_email_is_asked_or_kept_and_init_has_no_receipt(services, settings) -> None:
    SandboxClient.from_settings(settings).tbank.configure(cash_register=False)
    receipts_off = dataclasses.replace(settings, tbank_receipts=False)

    without = buy(services, receipts_off, email=None)
    ignored = buy(services, receipts_off, email="not an address")

    assert without["email"] is None and ignored["email"] is None
    assert [("Receipt" in r["body"], r["answer"]["Success"]) for r in requests_of(services, "Init")] == [
        (False, True), (False, True)]


def test_payment_and_partial_refund_receipts_are_answered_ok_kept_and_move_nothing(live_web, services,
                                                                                   settings) -> None:
    payment = buy(services, settings)
    SandboxClient.from_settings(settings).tbank.pay(payment["provider_payment_id"], "success")
    wait_until(lambda: status_of(services, payment) == "confirmed" and delivered_receipts(services, payment),
               timeout_s=10, what="CONFIRMED and the Income receipt delivered")

    job = job_with_failed_photos(services, payment, failed=3)
    refund = settle_refund(services, job)

    expected = 149900 * 3 // 23
    assert (refund["status"], refund["amount_kopecks"]) == ("succeeded", expected)
    (cancel,) = requests_of(services, "Cancel")
    assert cancel["answer"]["Success"] is True and cancel["body"]["Amount"] == expected
    assert [(i["Name"], i["Amount"]) for i in cancel["body"]["Receipt"]["Items"]] == [
        ("AI-портреты PinGlass, 3 шт.", expected)]
    wait_until(lambda: len(delivered_receipts(services, payment)) == 2, timeout_s=10, what="the refund's receipt")
    with services.pool.connection() as conn:
        kept = receipts_of_payment(conn, payment_id=payment["id"])
        after = payments.get(conn, id=payment["id"])
    assert [(r["kind"], r["amount_kopecks"]) for r in kept] == [("Income", 149900), ("IncomeReturn", expected)]
    assert all(r["receipt_url"] and r["fiscal_number"] for r in kept)
    assert (after["status"], after["refunded_kopecks"]) == ("partially_refunded", expected)
    attempts = [a for n in SandboxClient.from_settings(settings).tbank.notifications(payment["provider_payment_id"])
                for a in n["attempts"]]
    assert attempts and all((a["http_status"], a["body"]) == (200, "OK") for a in attempts)  # never a 422


def test_our_init_makes_a_two_stage_terminal_charge_at_once(live_web, services, settings) -> None:
    SandboxClient.from_settings(settings).tbank.configure(two_stage=True)
    payment = buy(services, settings)

    paid = SandboxClient.from_settings(settings).tbank.pay(payment["provider_payment_id"], "success")

    assert paid["Status"] == "CONFIRMED"
    wait_until(lambda: status_of(services, payment) == "confirmed", timeout_s=10, what="the payment confirmed")


def test_a_refund_refused_for_invalid_parameters_is_not_retried(services, settings) -> None:
    payment = buy(services, settings)
    box = SandboxClient.from_settings(settings)
    box.tbank.pay(payment["provider_payment_id"], "success")
    with services.pool.connection() as conn:
        payments.move_status(conn, id=payment["id"], new="confirmed")
    job = job_with_failed_photos(services, payment, failed=1)
    box.tbank.fail(method="Cancel", error_code="9999", times=1)

    with pytest.raises(Permanent):
        settle_refund(services, job)

    with services.pool.connection() as conn:
        (refund,) = refund_rows.refunds_of_job(conn, job_id=job["id"])
        alerts = conn.execute("SELECT kind FROM admin_alerts").fetchall()
    assert refund["status"] == "failed" and [a["kind"] for a in alerts] == ["refund_failed"]
    assert len(requests_of(services, "Cancel")) == 1
