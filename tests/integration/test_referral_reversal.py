"""Referrals follow the money (issue 9): the inviter keeps ``referral_percent`` of what the business kept — a full
refund reverses the whole credit, a partial one its share, once per refund, and a balance never goes below zero,
however the refunds round."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg.errors
import pytest

from db import payments, refunds
from rules.money import prorated_refund
from rules.referrals import reversal_for_refund
from tests.factories import make_avatar, make_paid_payment, make_user
from usecases import generation
from usecases.users import referral_stats, reverse_for_refund

PERCENT = 10


def referred_purchase(services, *, tier: str = "standard") -> tuple[dict[str, Any], dict[str, Any]]:
    """(inviter, payment): an invited person's paid payment whose job started, so the inviter was credited."""
    inviter = make_user(services)
    payer = make_user(services, referred_by=inviter["id"])
    payment = make_paid_payment(services, payer, make_avatar(services, payer), tier=tier)
    with services.pool.connection() as conn, conn.transaction():
        generation.start_job(conn, payment_id=payment["id"], referral_percent=PERCENT)
    return inviter, payment


def settle(services, payment: dict[str, Any], amount: int, *, photos: int = 1) -> tuple[dict[str, Any], int]:
    """A refund of ``amount`` that succeeded at the bank, booked as the refund path books it, the reversal in
    the same transaction; (the refund row, kopecks reversed)."""
    with services.pool.connection() as conn, conn.transaction():
        refund = refunds.insert_refund(conn, payment_id=payment["id"], job_id=None, amount_kopecks=amount,
                                       photos_refunded=photos, reason="missing_photos",
                                       external_request_id=f"test-{uuid.uuid4().hex}")
        refund = refunds.finish_refund(conn, id=refund["id"], status="succeeded", provider_status="REFUNDED")
        payments.add_refunded(conn, id=payment["id"], amount=amount)
        reversed_now = reverse_for_refund(conn, refund=refund, percent=PERCENT)
    return refund, reversed_now


def stats(services, user: dict[str, Any]) -> dict[str, Any]:
    with services.pool.connection() as conn:
        return referral_stats(conn, user_id=user["id"])


def test_a_full_refund_reverses_the_whole_credit(services) -> None:
    inviter, payment = referred_purchase(services)

    _, reversed_now = settle(services, payment, payment["amount_kopecks"], photos=15)

    assert reversed_now == 9990
    assert stats(services, inviter) | {"invited": 0} == {"invited": 0, "paying": 1, "earned_kopecks": 9990,
                                                        "reversed_kopecks": 9990, "balance_kopecks": 0}


def test_a_partial_refund_reverses_its_share_and_the_rest_follows_later(services) -> None:
    inviter, payment = referred_purchase(services, tier="starter")  # 499 ₽, 7 portraits: credit 49,90 ₽
    two_missing = prorated_refund(payment["amount_kopecks"], 7, 2)  # 142,57 ₽

    _, first = settle(services, payment, two_missing, photos=2)

    assert first == 4990 - (49900 - two_missing) * PERCENT // 100  # the inviter keeps 10 % of 356,43 ₽
    assert stats(services, inviter)["balance_kopecks"] == 3564
    _, rest = settle(services, payment, payment["amount_kopecks"] - two_missing, photos=5)
    assert first + rest == 4990
    assert stats(services, inviter)["balance_kopecks"] == 0


def test_the_same_refund_twice_reverses_once(services) -> None:
    inviter, payment = referred_purchase(services)
    refund, first = settle(services, payment, 33300, photos=5)

    with services.pool.connection() as conn, conn.transaction():
        second = reverse_for_refund(conn, refund=refund, percent=PERCENT)
    with services.pool.connection() as conn:
        ledger = conn.execute("SELECT count(*) AS n FROM referral_reversals WHERE refund_id = %s",
                              (refund["id"],)).fetchone()["n"]

    assert (first, second, ledger) == (3330, 0, 1)
    assert stats(services, inviter)["reversed_kopecks"] == 3330


def test_rounding_over_many_small_refunds_never_leaves_a_balance_below_zero(services) -> None:
    inviter, payment = referred_purchase(services, tier="premium")  # 1 499 ₽ over 23 portraits: credit 149,90 ₽
    total, refunded, reversed_sum = payment["amount_kopecks"], 0, 0
    one_each = [prorated_refund(total, 23, 1)] * 23  # 65,17 ₽ each, rounded down: 9 kopecks are left over
    for amount in [*one_each, total - sum(one_each)]:
        _, reversed_now = settle(services, payment, amount)
        refunded += amount
        reversed_sum += reversed_now
        assert stats(services, inviter)["balance_kopecks"] == (total - refunded) * PERCENT // 100 >= 0
    assert stats(services, inviter)["balance_kopecks"] == 0 and reversed_sum == 14990


def test_the_earning_row_refuses_a_reversal_beyond_its_credit(services) -> None:
    _, payment = referred_purchase(services)

    with services.pool.connection() as conn, pytest.raises(psycopg.errors.CheckViolation) as refused:
        conn.execute("UPDATE referral_earnings SET reversed_kopecks = amount_kopecks + 1 WHERE payment_id = %s",
                     (payment["id"],))
    assert "referral_earnings_reversed_within" in str(refused.value)


def test_a_refund_of_a_payment_nobody_invited_reverses_nothing(services) -> None:
    payer = make_user(services)
    payment = make_paid_payment(services, payer, make_avatar(services, payer))
    with services.pool.connection() as conn, conn.transaction():
        generation.start_job(conn, payment_id=payment["id"], referral_percent=PERCENT)

    _, reversed_now = settle(services, payment, payment["amount_kopecks"])

    assert reversed_now == 0


@pytest.mark.parametrize("paid, credited, refunds_made", [
    (49900, 4990, [1, 1, 1, 49897]), (99900, 9990, [33300, 33300, 33300]), (149900, 14990, [6517] * 23 + [9]),
    (101, 10, [50, 50, 1]), (99900, 9990, [99899, 1]),
])
def test_reversals_add_up_to_the_credit_exactly_and_never_beyond(paid, credited, refunds_made) -> None:
    reversed_before = refunded_before = 0
    for refund in refunds_made:
        step = reversal_for_refund(paid=paid, credited=credited, reversed_before=reversed_before,
                                   refunded_before=refunded_before, refund=refund, percent=PERCENT)
        assert step >= 0
        reversed_before += step
        refunded_before += refund
        assert credited - reversed_before == min(credited, (paid - refunded_before) * PERCENT // 100)
    assert reversed_before == credited
