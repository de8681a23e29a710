"""A payment from checkout to confirmation.

**Checkout**: a payment for an avatar, a style and a tier, and its T-Bank payment page, plus a payment read
back; the checks both rails and a credit redemption share (``open_checkout``, ``ready_avatar``).

T-Bank Init is the one provider call made inside a user's request (they are waiting for the payment page
anyway). The payment row — with its unique OrderId, T-Bank's idempotency key — is committed before the call,
so the intent is on record whatever happens to the call. If Init fails the row stays as it was: status ``new``,
no PaymentId, no URL. Nobody can pay it, the reconciler ignores it (it has no PaymentId to ask about), and the
user simply asks for a new payment.

Init always asks for a one-stage payment (``PayType`` "O", in the gateway). With 54-FZ receipts on
(``settings.tbank_receipts``, below) the buyer's e-mail is required, stored on the payment and
carried by Init's ``Receipt``; with them off no e-mail is asked or kept.

**Status**: a payment's status as T-Bank reports it — by notification or when we ask (reconcile) — and what
follows: a payment that just became confirmed queues ``consume_payment``; money taken for a payment we had closed
alerts admins, since no job will start for it. Notifications that move nothing are stored all the same: a
RECEIPT records its fiscal document (below), a status T-Bank may add one day alerts admins once.

**Receipts**: 54-FZ receipts on the T-Bank rail (``settings.tbank_receipts``): the e-mail asked at checkout,
the ``Receipt`` sent with Init and with every refund's Cancel, and the fiscal documents T-Bank reports back
(``Status: "RECEIPT"`` notifications) kept where an operator can see them.

With receipts off nothing is asked and nothing is sent: checkout ignores an e-mail, Init and Cancel go without a
Receipt, exactly as before. A terminal with an online cash register refuses an Init without a Receipt (309) and a
partial refund without one for the refunded part, so the switch must match the terminal (docs/providers.md).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from db import avatars, outbox, payments
from gateways.tbank import TBankClient, TBankError
from rules.catalog import MIN_REFERENCES, Tier, is_ready
from rules.plural import counted
from rules.receipts import normalized_email, receipt
from rules.states import TBANK_TO_PAYMENT
from settings import Settings
from telemetry.context import correlation_id, correlation_of
from telemetry.logs import log
from usecases.alerts import raise_alert
from usecases.errors import Refused

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

logger = logging.getLogger("usecases.payments")
checkout_logger = logging.getLogger("web.api.payments")  # the checkout's log lines keep their logger

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
    key = event_key(raw) if bank_status == RECEIPT else ""
    fresh = payments.insert_event(conn, provider_payment_id=provider_payment_id, status=bank_status,
                                  order_id=order_id, amount_kopecks=amount_kopecks, raw=raw, event_key=key)
    if fresh and bank_status == RECEIPT:
        record_receipt(conn, payment=payment, raw={**raw, "Amount": amount_kopecks}, key=key)
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


# Checkout

PAYMENT_TTL_S = 24 * 3600  # T-Bank's default link life; our record expires with the link
# A checkout without a link is still "in flight" this long (Init reads for 8 s at most, createInvoiceLink about
# as long); after that its provider call failed and it no longer holds one of the person's checkout slots.
CHECKOUT_IN_FLIGHT_S = 120


def checkout(pool: ConnectionPool, tbank: TBankClient, settings: Settings, *, user_id: int, avatar_id: int,
             style_id: str, tier: Tier, email: str | None = None) -> dict[str, Any]:
    """Record the payment, then ask T-Bank (``tbank``: the caller's client, e.g. the web's short-timeout one) for
    its payment page; the payment with its PaymentId and URL. Refused EMAIL_REQUIRED / INVALID_EMAIL (receipts on
    and no usable ``email``), TOO_MANY_CHECKOUTS, NOT_FOUND (not the user's avatar), AVATAR_NOT_READY (too few
    references) or PAYMENT_PROVIDER_ERROR (Init failed; the row stays ``new``)."""
    email = checkout_email(settings, email)
    with pool.connection() as conn, conn.transaction():
        open_checkout(conn, settings, user_id=user_id, avatar_id=avatar_id)
        payment = payments.insert(conn, user_id=user_id, avatar_id=avatar_id, style_id=style_id,
                                  tier=tier.id, photo_count=tier.photos, amount_kopecks=tier.price_kopecks,
                                  order_id=uuid.uuid4().hex, ttl_s=PAYMENT_TTL_S, email=email,
                                  correlation_id=correlation_id())
    try:
        init = tbank.init(order_id=payment["order_id"], amount=payment["amount_kopecks"],
                          description="PinGlass: " + counted(tier.photos, "AI-портрет", "AI-портрета", "AI-портретов"),
                          notification_url=settings.callback_url("/webhooks/tbank"),
                          success_url=settings.public_url(f"/app/#/payments/{payment['id']}?result=success"),
                          fail_url=settings.public_url(f"/app/#/payments/{payment['id']}?result=fail"),
                          data={"payment_id": str(payment["id"])}, redirect_due_date=payment["expires_at"],
                          receipt=init_receipt(settings, payment))
    except TBankError as exc:
        log(checkout_logger, "payment_init_failed", level=logging.WARNING, payment_id=payment["id"],
            order_id=payment["order_id"], code=exc.code, retryable=exc.retryable)
        raise Refused("PAYMENT_PROVIDER_ERROR", "the payment provider did not answer; try again") from None

    with pool.connection() as conn, conn.transaction():
        payment = (payments.set_provider(conn, id=payment["id"], provider_payment_id=init.payment_id,
                                         payment_url=init.payment_url)
                   or payments.get_existing(conn, id=payment["id"]))
    log(checkout_logger, "payment_created", user_id=user_id, payment_id=payment["id"], tier=tier.id,
        amount=payment["amount_kopecks"], provider_payment_id=init.payment_id)
    return payment


def open_checkout(conn: Connection, settings: Settings, *, user_id: int, avatar_id: int) -> dict[str, Any]:
    """What both rails check, in the caller's transaction, before a new payment row is written: a checkout slot
    is free (``hold_checkout_slot``) and the avatar is the user's and ready; the avatar. Refused
    TOO_MANY_CHECKOUTS, NOT_FOUND or AVATAR_NOT_READY."""
    hold_checkout_slot(conn, settings, user_id=user_id)
    return ready_avatar(conn, user_id=user_id, avatar_id=avatar_id)


def ready_avatar(conn: Connection, *, user_id: int, avatar_id: int) -> dict[str, Any]:
    """The user's avatar when a generation can be made from it (every way to pay for or redeem one asks this);
    Refused NOT_FOUND (not the user's avatar) or AVATAR_NOT_READY (too few references)."""
    avatar = avatars.get_avatar(conn, id=avatar_id, user_id=user_id)
    if avatar is None:
        raise Refused("NOT_FOUND", "avatar not found")
    if not is_ready(avatar["reference_count"]):
        raise Refused("AVATAR_NOT_READY", f"the avatar needs at least {MIN_REFERENCES} reference photos")
    return avatar


def hold_checkout_slot(conn: Connection, settings: Settings, *, user_id: int) -> None:
    """Refused TOO_MANY_CHECKOUTS when the user already holds ``settings.max_open_checkouts`` open payments
    (either rail), in the caller's transaction, before a new payment row is written.

    Open: ``new`` or ``authorized`` and not past its life, with a link handed out or its provider call still in
    flight. The user's checkout lock is held to the end of the caller's transaction, so two concurrent checkouts
    cannot both count the same open payments and both pass."""
    payments.lock_checkouts_of_user(conn, user_id=user_id)
    held = payments.count_open_checkouts(conn, user_id=user_id, in_flight_s=CHECKOUT_IN_FLIGHT_S)
    if held >= settings.max_open_checkouts:
        raise Refused("TOO_MANY_CHECKOUTS",
                      f"at most {settings.max_open_checkouts} open checkouts at once: pay one or let it expire")


def payment_of_user(conn: Connection, *, user_id: int,
                    payment_id: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The user's payment and the job it started (None before it starts), in one round trip (the payment screen
    asks every 1-4 s); Refused NOT_FOUND."""
    payment, job = payments.with_job(conn, id=payment_id, user_id=user_id)
    if payment is None:
        raise Refused("NOT_FOUND", "payment not found")
    return payment, job


# Receipts (54-FZ)

# The fields of a RECEIPT notification that tell its fiscal documents apart, most specific first: one payment has
# an Income receipt and an IncomeReturn per refund, each its own event (payment_events.event_key).
_DOCUMENT_FIELDS = ("FiscalDocumentNumber", "FiscalNumber", "ReceiptUrl", "Url")


def checkout_email(settings: Settings, email: str | None) -> str | None:
    """The e-mail to store on a new payment: None with receipts off (whatever was sent), else the normalised
    address; Refused EMAIL_REQUIRED (none given) or INVALID_EMAIL (not an address)."""
    if not settings.tbank_receipts:
        return None
    if email is None or not email.strip():
        raise Refused("EMAIL_REQUIRED", "an e-mail for the receipt is required")
    address = normalized_email(email)
    if address is None:
        raise Refused("INVALID_EMAIL", "the e-mail for the receipt is not a valid address")
    return address


def init_receipt(settings: Settings, payment: dict[str, Any]) -> dict[str, Any] | None:
    """The Receipt of the whole order for Init, or None (receipts off, or a payment without an e-mail)."""
    if not settings.tbank_receipts or not payment.get("email"):
        return None
    return receipt(amount_kopecks=payment["amount_kopecks"], photos=payment["photo_count"], email=payment["email"],
                   taxation=settings.tbank_taxation, tax=settings.tbank_vat)


def refund_receipt(settings: Settings, payment: dict[str, Any], *, amount_kopecks: int,
                   photos: int) -> dict[str, Any] | None:
    """The Receipt of a refund — ``photos`` portraits for ``amount_kopecks`` — for its Cancel, or None (receipts
    off, or a payment made without an e-mail, which the bank fiscalized without us)."""
    if not settings.tbank_receipts or not payment.get("email"):
        return None
    return receipt(amount_kopecks=amount_kopecks, photos=photos, email=payment["email"],
                   taxation=settings.tbank_taxation, tax=settings.tbank_vat)


def event_key(raw: dict[str, Any]) -> str:
    """What makes this RECEIPT notification its own event: its Type and fiscal document (or, lacking one, its
    Amount), so a re-sent notification is a duplicate and a refund's receipt is not."""
    document = next((str(raw[name]) for name in _DOCUMENT_FIELDS if raw.get(name) not in (None, "")),
                    f"amount:{raw.get('Amount')}")
    return f"{raw.get('Type') or 'unknown'}:{document}"[:200]


def record_receipt(conn: Connection, *, payment: dict[str, Any], raw: dict[str, Any],
                   key: str) -> dict[str, Any] | None:
    """Keep the fiscal document a fresh RECEIPT notification reports (type, amount, URL, numbers) on the payment;
    None when it is already recorded."""
    url = raw.get("ReceiptUrl") or raw.get("Url")
    number, document = raw.get("FiscalNumber"), raw.get("FiscalDocumentNumber")
    return payments.insert_receipt(conn, payment_id=payment["id"], kind=str(raw.get("Type") or "unknown")[:40],
                                   amount_kopecks=int(raw["Amount"]), receipt_url=str(url)[:500] if url else None,
                                   fiscal_number=None if number is None else str(number)[:40],
                                   fiscal_document_number=None if document is None else str(document)[:40],
                                   event_key=key)


def receipts_of_payment(conn: Connection, *, payment_id: int) -> list[dict[str, Any]]:
    """The fiscal documents recorded for a payment, oldest first."""
    return payments.receipts_of_payment(conn, payment_id=payment_id)
