"""A payment's status as T-Bank reports it — by notification or when we ask (reconcile) — and what follows:
a payment that just became confirmed queues ``consume_payment``; money taken for a payment we had closed
alerts admins, since no job will start for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import outbox, payments
from rules.states import TBANK_TO_PAYMENT
from usecases.alerts import raise_alert

if TYPE_CHECKING:
    from psycopg import Connection

CLOSED = frozenset({"expired", "canceled", "rejected"})


def apply_payment_status(conn: Connection, *, payment: dict[str, Any], new_status: str) -> dict[str, Any] | None:
    """Move the payment monotonically to ``new_status``; a payment that just became confirmed queues
    consume_payment in the same transaction. None when the move is not allowed (old or repeated event)."""
    moved = payments.move_status(conn, id=payment["id"], new=new_status)
    if moved is not None and new_status == "confirmed" and not moved["consumed"]:
        outbox.send(conn, "consume_payment", payment["id"])
    return moved


def take_notification(conn: Connection, *, payment: dict[str, Any], provider_payment_id: str, bank_status: str,
                      order_id: str, amount_kopecks: int, raw: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """Store a verified notification once per (PaymentId, Status) and act on a fresh one: (fresh, the payment
    as moved or None). The caller has checked it against ``payment``."""
    fresh = payments.insert_event(conn, provider_payment_id=provider_payment_id, status=bank_status,
                                  order_id=order_id, amount_kopecks=amount_kopecks, raw=raw)
    new_status = TBANK_TO_PAYMENT.get(bank_status)
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

