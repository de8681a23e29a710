"""Money arithmetic in integer kopecks: referral shares and prorated refunds (I7)."""

from __future__ import annotations


def referral_share(amount_kopecks: int, percent: int) -> int:
    """The referrer's earning: ``percent`` of the payment, rounded down to a whole kopeck."""
    if amount_kopecks < 0 or not 0 <= percent <= 100:
        raise ValueError("amount must be >= 0 and percent within 0..100")
    return amount_kopecks * percent // 100


def prorated_refund(amount_kopecks: int, total_photos: int, missing_photos: int, already_refunded: int = 0) -> int:
    """What to give back for ``missing_photos`` of ``total_photos``, never more than is left of the payment.

    All photos missing refunds everything left; otherwise ``amount * missing // total`` (rounded down, so the
    sum of partial refunds never exceeds the amount).
    """
    if total_photos <= 0 or not 0 <= missing_photos <= total_photos:
        raise ValueError("missing photos must be within 0..total")
    left = amount_kopecks - already_refunded
    if left <= 0 or missing_photos == 0:
        return 0
    if missing_photos == total_photos:
        return left
    return min(left, amount_kopecks * missing_photos // total_photos)
