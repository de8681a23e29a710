"""A payment's status as T-Bank reports it — by notification or when we ask (reconcile) — and what follows:
a payment that just became confirmed queues ``consume_payment``; money taken for a payment we had closed
alerts admins, since no job will start for it. Notifications that move nothing are stored all the same: a
RECEIPT records its fiscal document (``usecases.receipts``), a status T-Bank may add one day alerts admins once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from db import outbox, payments
from rules.states import TBANK_TO_PAYMENT
from telemetry.context import correlation_of
from telemetry.logs import log
from usecases import receipts
from usecases.alerts import raise_alert

if TYPE_CHECKING:
    from psycopg import Connection

logger = logging.getLogger("usecases.payments")
CLOSED = frozenset({"expired", "canceled", "rejected"})
RECEIPT = "RECEIPT"
# Stored, never acted on when notified: T-Bank sends CANCELED after a Cancel of an unpaid payment, and only we
# cancel — the 48 h close (usecases.payment_upkeep), which closes the row itself and tells the payer in the same
# transaction. Applying the notification first would win that race and the payer would not be told; a cancel made
# elsewhere (the merchant's cabinet) is applied by the reconcile rotation's GetState instead.
STORED_ONLY = frozenset({"CANCELED"})
# On these statuses T-Bank reports the amount of the refund (or of what is left), not the payment's amount.
REFUND_STATUSES = frozenset({"REFUNDING", "PARTIAL_REFUNDED", "REFUNDED", "REVERSING", "PARTIAL_REVERSED",
                             "REVERSED", "ASYNC_REFUNDING"})
# Every status T-Bank's notifications are documented to carry (docs/providers.md#notifications); anything else is
# stored, answered OK and alerted once, so a new status is noticed without T-Bank re-sending it for a day.
KNOWN_STATUSES = frozenset({"NEW", "FORM_SHOWED", "AUTHORIZING", "3DS_CHECKING", "3DS_CHECKED", "AUTHORIZED",
                            "CONFIRMING", "CONFIRMED", "CANCELED", "DEADLINE_EXPIRED", "REJECTED", "AUTH_FAIL",
                            RECEIPT, *REFUND_STATUSES})


def apply_payment_status(conn: Connection, *, payment: dict[str, Any], new_status: str) -> dict[str, Any] | None:
    """Move the payment monotonically to ``new_status``; a payment that just became confirmed queues
    consume_payment in the same transaction, under the correlation id of the checkout that made the payment, so
    the purchase's job, its actors and provider calls carry that one id whatever told us of the payment (a
    notification, the Stars update, a reconciliation). None when the move is not allowed (old or repeated
    event)."""
    moved = payments.move_status(conn, id=payment["id"], new=new_status)
    if moved is not None and new_status == "confirmed" and not moved["consumed"]:
        with correlation_of(moved.get("correlation_id")):
            log(logger, "payment_confirmed", payment_id=payment["id"], rail=moved.get("rail"))
            outbox.send(conn, "consume_payment", payment["id"])
    return moved


def amount_mismatch(*, bank_status: str, amount_kopecks: int, payment: dict[str, Any]) -> str | None:
    """Why a notification's Amount cannot be this payment's, or None. A status that moves the payment to
    authorized, confirmed or a close carries the payment's amount exactly; a refund, a receipt (a refund's receipt
    carries the refunded amount) and a status we do not act on carry at most the payment's amount."""
    if bank_status in TBANK_TO_PAYMENT and bank_status not in REFUND_STATUSES:
        return None if amount_kopecks == payment["amount_kopecks"] else "Amount does not match the payment"
    if amount_kopecks > payment["amount_kopecks"]:
        return "Amount is larger than the payment"
    return None


def take_notification(conn: Connection, *, payment: dict[str, Any], provider_payment_id: str, bank_status: str,
                      order_id: str, amount_kopecks: int, raw: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """Store a verified notification once per (PaymentId, Status) — per fiscal document for RECEIPT — and act on a
    fresh one: (fresh, the payment as moved or None). A RECEIPT records its fiscal document and moves nothing; an
    unknown status moves nothing and alerts admins once per status. The caller has checked it against
    ``payment`` (``amount_mismatch``)."""
    key = receipts.event_key(raw) if bank_status == RECEIPT else ""
    fresh = payments.insert_event(conn, provider_payment_id=provider_payment_id, status=bank_status,
                                  order_id=order_id, amount_kopecks=amount_kopecks, raw=raw, event_key=key)
    if fresh and bank_status == RECEIPT:
        receipts.record_receipt(conn, payment=payment, raw={**raw, "Amount": amount_kopecks}, key=key)
    elif fresh and bank_status not in KNOWN_STATUSES:
        raise_alert(conn, kind="tbank_unknown_status", severity="warning",
                    message=f"T-Bank sent status {bank_status[:40]!r} (payment {payment['id']}), which we do not "
                            f"know: stored, answered OK, nothing moved; check T-Bank's documentation",
                    details={"payment_id": payment["id"], "status": bank_status[:40]},
                    dedup_key=f"tbank_unknown_status:{bank_status[:80]}")
    new_status = None if bank_status in STORED_ONLY else TBANK_TO_PAYMENT.get(bank_status)
    if not fresh or new_status is None:
        return fresh, None
    moved = apply_payment_status(conn, payment=payment, new_status=new_status)
    if moved is None and new_status in ("authorized", "confirmed") and payment["status"] in CLOSED:
        # money taken for a payment we had closed: no job will start, so a person must act
        raise_alert(conn, kind="payment_after_close", severity="critical",
                    message=f"payment {payment['id']} is {bank_status} at T-Bank but was "
                            f"{payment['status']} here: refund or start it by hand",
                    details={"payment_id": payment["id"]},
                    dedup_key=f"payment_after_close:{payment['id']}:{bank_status}")
    return fresh, moved


def reconcile(conn: Connection, *, payment: dict[str, Any], bank_status: str, bank_amount: int) -> None:
    """Act on the status T-Bank gave when asked (GetState): move the payment like a notification would, or
    expire a payment nobody is paying whose link's life is over (one in 3-DS or authorizing may still
    complete)."""
    new_status = TBANK_TO_PAYMENT.get(bank_status)
    if new_status is not None and bank_amount == payment["amount_kopecks"]:
        apply_payment_status(conn, payment=payment, new_status=new_status)
    elif bank_status in ("NEW", "FORM_SHOWED"):
        current = payments.get(conn, id=payment["id"])
        if current is not None and current["expired_now"]:
            payments.move_status(conn, id=payment["id"], new="expired")


def expire_unsent(conn: Connection) -> int:
    """Expire checkouts that never got a payment link and are past their life; returns how many."""
    return payments.expire_unsent(conn)


def open_payments(conn: Connection, *, idle_s: float) -> list[dict[str, Any]]:
    """Payments T-Bank knows of (they have a PaymentId) that are still open and quiet for ``idle_s``."""
    return payments.list_open(conn, idle_s=idle_s)


def payment_by_provider_id(conn: Connection, *, provider_payment_id: str) -> dict[str, Any] | None:
    return payments.get_by_provider_id(conn, provider_payment_id=provider_payment_id)

