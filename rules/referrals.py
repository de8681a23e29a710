"""Referral credits follow the money (issue 9): the inviter earns ``percent`` of what the business kept, so a
refund takes back the matching share of the payment's credit. Pure arithmetic in integer kopecks (I7)."""

from __future__ import annotations

from rules.money import referral_share


def reversal_for_refund(*, paid: int, credited: int, reversed_before: int, refunded_before: int, refund: int,
                        percent: int) -> int:
    """The kopecks of the credit a refund of ``refund`` takes back, after ``refunded_before`` was refunded and
    ``reversed_before`` reversed: what brings the credit down to ``percent`` of what is kept after this refund.

    Computed from the totals, not from this refund alone, so rounding never adds up across partial refunds: a
    full refund reverses the whole credit, and nothing ever reverses more than is left of it.
    """
    if min(paid, credited, reversed_before, refunded_before, refund) < 0 or reversed_before > credited:
        raise ValueError("amounts must be >= 0 and the reversed part within the credit")
    kept = max(0, paid - refunded_before - refund)
    still_earned = min(credited, referral_share(kept, percent))
    return max(0, credited - reversed_before - still_earned)
