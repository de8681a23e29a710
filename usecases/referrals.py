"""Referral credit: the person who invited a payer earns a share of the payment, once per payment (I7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import referrals, users
from rules.money import referral_share

if TYPE_CHECKING:
    from psycopg import Connection


def credit_referrer(conn: Connection, *, payment: dict[str, Any], percent: int) -> bool:
    """Credit the payer's referrer with ``percent`` of the payment, in the caller's transaction; False when the
    payer was not referred or the payment was credited already (``referral_earnings_payment_key``)."""
    user = users.get_user(conn, id=payment["user_id"])
    if user is None or user["referred_by"] is None:
        return False
    return referrals.insert_referral(conn, payment_id=payment["id"], referrer_user_id=user["referred_by"],
                                     referred_user_id=user["id"],
                                     amount_kopecks=referral_share(payment["amount_kopecks"], percent))


def referral_stats(conn: Connection, *, user_id: int) -> dict[str, Any]:
    """What the user's invite code brought: ``invited``, ``paying`` (of them, who paid) and ``earned_kopecks``."""
    return referrals.stats(conn, user_id=user_id)


def reverse_for_refund(conn: Connection, *, refund: dict[str, Any], percent: int) -> int:
    """Reverse the inviter's share of a refund that just succeeded, in the caller's transaction (once per
    refund); the kopecks reversed (0 when the payer was not referred). Being built (issue 9)."""
    raise NotImplementedError("the referral reversal is being built (issue 9)")
