"""Telegram Stars (XTR), the second rail beside T-Bank: invoice links, the pre-checkout answer, the paid
update, refunds and reconciliation against getStarTransactions (docs/payments.md).

Being built (issue 9): the functions below are the agreed entry points other modules call."""

from __future__ import annotations

from typing import Any

from runtime import Services


def settle_stars_refund(services: Services, job: dict[str, Any], payment: dict[str, Any]) -> dict[str, Any] | None:
    """What a Stars job owes: a job that made nothing is refunded whole (refundStarPayment); missing portraits of
    a partial job follow the partial policy. Called by ``usecases.refunds.settle_refund`` for rail 'stars'."""
    raise NotImplementedError("the Stars refund is being built (issue 9)")


def reconcile_stars(services: Services) -> int:
    """Apply Stars charges whose update we missed (getStarTransactions); how many were applied. Called by the
    ``reconcile_payments`` actor."""
    raise NotImplementedError("the Stars reconciliation is being built (issue 9)")
