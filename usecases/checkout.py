"""Checkout: a payment for an avatar, a style and a tier, and its T-Bank payment page, plus a payment read back.

T-Bank Init is the one provider call made inside a user's request (they are waiting for the payment page
anyway). The payment row — with its unique OrderId, T-Bank's idempotency key — is committed before the call,
so the intent is on record whatever happens to the call. If Init fails the row stays as it was: status ``new``,
no PaymentId, no URL. Nobody can pay it, the reconciler ignores it (it has no PaymentId to ask about), and the
user simply asks for a new payment.

Init always asks for a one-stage payment (``PayType`` "O", in the gateway). With 54-FZ receipts on
(``settings.tbank_receipts``, ``usecases.receipts``) the buyer's e-mail is required, stored on the payment and
carried by Init's ``Receipt``; with them off no e-mail is asked or kept."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from db import avatars, jobs, payments
from gateways.tbank import TBankClient, TBankError
from rules.catalog import MIN_REFERENCES, Tier, is_ready
from rules.plural import counted
from settings import Settings
from telemetry.context import correlation_id
from telemetry.logs import log
from usecases import receipts
from usecases.errors import Refused

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

logger = logging.getLogger("web.api.payments")  # the checkout's log lines keep their logger

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
    email = receipts.checkout_email(settings, email)
    with pool.connection() as conn, conn.transaction():
        open_checkout(conn, settings, user_id=user_id, avatar_id=avatar_id)
        payment = payments.insert(conn, user_id=user_id, avatar_id=avatar_id, style_id=style_id,
                                  tier=tier.id, photo_count=tier.photos, amount_kopecks=tier.price_kopecks,
                                  order_id=uuid.uuid4().hex, ttl_s=PAYMENT_TTL_S, email=email,
                                  correlation_id=correlation_id())
    try:
        init = tbank.init(order_id=payment["order_id"], amount=payment["amount_kopecks"],
                          description="PinGlass: " + counted(tier.photos, "AI-портрет", "AI-портрета", "AI-портретов"),
                          notification_url=settings.public_url("/webhooks/tbank"),
                          success_url=settings.public_url(f"/app/#/payments/{payment['id']}?result=success"),
                          fail_url=settings.public_url(f"/app/#/payments/{payment['id']}?result=fail"),
                          data={"payment_id": str(payment["id"])}, redirect_due_date=payment["expires_at"],
                          receipt=receipts.init_receipt(settings, payment))
    except TBankError as exc:
        log(logger, "payment_init_failed", level=logging.WARNING, payment_id=payment["id"],
            order_id=payment["order_id"], code=exc.code, retryable=exc.retryable)
        raise Refused("PAYMENT_PROVIDER_ERROR", "the payment provider did not answer; try again") from None

    with pool.connection() as conn, conn.transaction():
        payment = (payments.set_provider(conn, id=payment["id"], provider_payment_id=init.payment_id,
                                         payment_url=init.payment_url)
                   or payments.get_existing(conn, id=payment["id"]))
    log(logger, "payment_created", user_id=user_id, payment_id=payment["id"], tier=tier.id,
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
    """The user's payment and the job it started (None before it starts); Refused NOT_FOUND."""
    payment = payments.get(conn, id=payment_id, user_id=user_id)
    if payment is None:
        raise Refused("NOT_FOUND", "payment not found")
    return payment, jobs.get_job_by_payment(conn, payment_id=payment_id)
