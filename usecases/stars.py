"""Telegram Stars (XTR), the second rail beside T-Bank: invoice links, the pre-checkout answer, the paid
update, refunds and reconciliation against getStarTransactions (docs/payments.md).

A Stars payment is a ``payments`` row with rail 'stars': ``amount_stars`` is what Telegram charges,
``amount_kopecks`` the tier's card price (revenue, referrals, proration stay in kopecks on both rails). The
invoice payload names the payment and carries an HMAC of its id and order id (``rules.signing``, purpose
``stars-payload``), so a payload cannot be forged or pointed at another payment. The pre-checkout query is
decided in the webhook request (Telegram cancels the purchase after 10 s); the paid update moves the payment to
confirmed through ``usecases.payments.apply_payment_status`` — the same path to one job as a card payment —
once per Telegram charge (``payments_telegram_charge_key``). ``refundStarPayment`` returns whole charges only:
a job that made nothing is refunded in full; the missing portraits of a partial job are credited as free
portraits (``usecases.credits``)."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from db import outbox, payments, refunds, stars, users
from gateways.telegram import TelegramClient, TelegramError, pre_checkout_answer
from rules import bot_texts
from rules.catalog import STYLES, Tier
from rules.signing import sign, verify
from runtime import Services
from runtime.outcomes import Permanent
from settings import Settings
from telemetry.context import correlation_id
from telemetry.logs import log
from usecases.alerts import raise_alert
from usecases.credits import grant_missing
from usecases.errors import Refused
from usecases.payments import apply_payment_status, open_checkout
from usecases.users import reverse_for_refund

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

logger = logging.getLogger("usecases.stars")

CURRENCY = "XTR"
PAYLOAD_PREFIX = "pg1"
PAYLOAD_PURPOSE = "stars-payload"
PAYMENT_TTL_S = 24 * 3600  # as on the card rail: after that the pre-checkout refuses and the row expires
RECONCILE_PAGE = 100
RECONCILE_MAX_PAGES = 20  # 2000 transactions back: far more than the payments open within a day


@functools.lru_cache(maxsize=8)
def stars_prices(spec: str) -> Mapping[str, int]:
    """Parse ``settings.tier_stars`` ("starter:250,standard:500") into Stars by tier id; empty: no Stars rail.
    ValueError on anything malformed."""
    prices: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        tier_id, _, amount = item.partition(":")
        if not tier_id or not amount.isdigit() or not 1 <= int(amount) <= 10_000 or tier_id in prices:
            raise ValueError(f"Stars price {item!r} is not id:stars (1..10000) or is repeated")
        prices[tier_id] = int(amount)
    return MappingProxyType(prices)


def payload_for(key: str, payment: Mapping[str, Any]) -> str:
    """The invoice payload of ``payment``: its id and an HMAC of id and order id."""
    signature = sign(key, PAYLOAD_PURPOSE, f"{payment['id']}:{payment['order_id']}")
    return f"{PAYLOAD_PREFIX}.{payment['id']}.{signature}"


def payment_of_payload(conn: Connection, key: str, payload: Any) -> dict[str, Any] | None:
    """The Stars payment a payload names, or None when it is malformed, forged or names no Stars payment."""
    parts = payload.split(".") if isinstance(payload, str) else []
    if len(parts) != 3 or parts[0] != PAYLOAD_PREFIX or not parts[1].isdigit() or len(parts[1]) > 18:
        return None
    payment = stars.get_payment(conn, id=int(parts[1]))
    if payment is None or payment["rail"] != "stars":
        return None
    if not verify(key, PAYLOAD_PURPOSE, f"{payment['id']}:{payment['order_id']}", parts[2]):
        return None
    return payment


# -- checkout -----------------------------------------------------------------------------------------------------

def checkout_stars(pool: ConnectionPool, telegram: TelegramClient, settings: Settings, *, user_id: int,
                   avatar_id: int, style_id: str, tier: Tier) -> dict[str, Any]:
    """Record the Stars payment, then ask Telegram for its invoice link (kept in ``payment_url``). Refused
    STARS_UNAVAILABLE (no Stars price for the tier), TOO_MANY_CHECKOUTS, NOT_FOUND, AVATAR_NOT_READY, or
    PAYMENT_PROVIDER_ERROR (createInvoiceLink failed; the row stays ``new`` without a link, nobody can pay it)."""
    amount_stars = stars_prices(settings.tier_stars).get(tier.id)
    if amount_stars is None:
        raise Refused("STARS_UNAVAILABLE", f"tier {tier.id!r} is not sold for Telegram Stars")
    with pool.connection() as conn, conn.transaction():
        open_checkout(conn, settings, user_id=user_id, avatar_id=avatar_id)
        payment = stars.insert_payment(conn, user_id=user_id, avatar_id=avatar_id, style_id=style_id, tier=tier.id,
                                       photo_count=tier.photos, amount_kopecks=tier.price_kopecks,
                                       amount_stars=amount_stars, order_id=uuid.uuid4().hex, ttl_s=PAYMENT_TTL_S,
                                       correlation_id=correlation_id())
    try:
        url = telegram.create_invoice_link(
            title=bot_texts.stars_invoice_title(tier.photos),
            description=bot_texts.stars_invoice_description(tier.photos, STYLES[style_id].title),
            payload=payload_for(settings.callback_signing_key, payment), label=tier.id, stars=amount_stars)
    except TelegramError as exc:
        log(logger, "stars_invoice_failed", level=logging.WARNING, payment_id=payment["id"], code=exc.code)
        raise Refused("PAYMENT_PROVIDER_ERROR", "Telegram did not answer; try again") from None
    with pool.connection() as conn, conn.transaction():
        payment = stars.set_invoice_url(conn, id=payment["id"], invoice_url=url) or payment
    log(logger, "stars_payment_created", user_id=user_id, payment_id=payment["id"], tier=tier.id,
        amount_stars=amount_stars)
    return payment


def cancel_unpaid(conn: Connection, *, user_id: int, payment_id: int) -> dict[str, Any]:
    """The person closed the Stars invoice without paying (openInvoice said "cancelled"): the payment is
    ``canceled`` now, so it no longer holds one of their open checkouts, and a later attempt to pay that same
    invoice is refused at pre-checkout (nothing is charged). Refused NOT_FOUND (not theirs), NOT_CANCELLABLE (a
    card payment — its page lapses at the bank — or one already paid or closed)."""
    payment = payments.get(conn, id=payment_id, user_id=user_id)
    if payment is None:
        raise Refused("NOT_FOUND", "payment not found")
    moved = None
    if payment["rail"] == "stars" and payment["status"] == "new" and payment["telegram_payment_charge_id"] is None:
        moved = payments.move_status(conn, id=payment_id, new="canceled")
    if moved is None:
        raise Refused("NOT_CANCELLABLE", "only an unpaid Telegram Stars payment can be cancelled")
    log(logger, "stars_invoice_cancelled", payment_id=payment_id, user_id=user_id)
    return moved


# -- the webhook's two updates ------------------------------------------------------------------------------------

def answer_pre_checkout(conn: Connection, settings: Settings, *, update_id: int,
                        query: Mapping[str, Any]) -> dict[str, Any]:
    """Decide a pre_checkout_query now (Telegram waits 10 s at most) and record the update with the decision;
    the answerPreCheckoutQuery method to answer the webhook request with. ``ok`` only for an open Stars payment
    whose payload verifies and whose currency and amount match."""
    payment = payment_of_payload(conn, settings.callback_signing_key, query.get("invoice_payload"))
    refusal = _pre_checkout_refusal(payment, query)
    answer = pre_checkout_answer(str(query.get("id", "")), ok=refusal is None, error_message=refusal)
    fresh = stars.record_update(conn, update_id=update_id, raw={"update_id": update_id,
                                                                "pre_checkout_query": dict(query)}, answer=answer)
    log(logger, "stars_pre_checkout", update_id=update_id, payment_id=payment["id"] if payment else None,
        ok=refusal is None, repeated=not fresh)
    return answer


def _pre_checkout_refusal(payment: Mapping[str, Any] | None, query: Mapping[str, Any]) -> str | None:
    """Why the person may not pay (in Russian, shown by Telegram), or None when they may."""
    if payment is None:
        return bot_texts.STARS_REFUSED_UNKNOWN
    if payment["status"] != "new" or payment["telegram_payment_charge_id"] is not None:
        return bot_texts.STARS_REFUSED_CLOSED
    if payment["expired_now"]:
        return bot_texts.STARS_REFUSED_EXPIRED
    amount = query.get("total_amount")
    if query.get("currency") != CURRENCY or isinstance(amount, bool) or amount != payment["amount_stars"]:
        return bot_texts.STARS_REFUSED_AMOUNT
    return None


def take_successful_payment(conn: Connection, settings: Settings, *, update_id: int,
                            message: Mapping[str, Any]) -> str:
    """Record the paid update and apply it in the caller's transaction (the webhook's); the outcome:
    ``confirmed``, ``duplicate`` (this update or this charge was applied already), ``returned`` (a charge its
    payment could not take, given back) or ``unmatched`` (an alert)."""
    paid = message["successful_payment"]
    raw_sender = message.get("from")
    sender: Mapping[str, Any] = raw_sender if isinstance(raw_sender, dict) else {}
    outcome = apply_charge(conn, settings, payload=paid.get("invoice_payload"),
                           charge_id=paid.get("telegram_payment_charge_id"), currency=paid.get("currency"),
                           amount=paid.get("total_amount"), payer_id=sender.get("id"))
    if not stars.record_update(conn, update_id=update_id, raw={"update_id": update_id, "message": dict(message)},
                               answer={"outcome": outcome}):
        return "duplicate"
    return outcome


def apply_charge(conn: Connection, settings: Settings, *, payload: Any, charge_id: Any, currency: Any, amount: Any,
                 payer_id: Any) -> str:
    """A Stars charge Telegram reports (the update or getStarTransactions): the payment it pays gets the charge
    and moves to confirmed (consume_payment queued by ``apply_payment_status``). A charge of the right amount for a
    payment that already holds one or was closed goes back at once (``_return_stray_charge``). Money we cannot
    match to a payment of that amount raises a critical alert: a person must refund or start it by hand."""
    if not isinstance(charge_id, str) or not charge_id:
        return "unmatched"
    payment = payment_of_payload(conn, settings.callback_signing_key, payload)
    if payment is not None and payment["telegram_payment_charge_id"] == charge_id:
        return "duplicate"
    if payment is None or currency != CURRENCY or amount != payment["amount_stars"]:
        _alert_unmatched(conn, charge_id=charge_id, payment=payment, reason="payload, currency or amount")
        return "unmatched"
    charged = stars.record_charge(conn, id=payment["id"], charge_id=charge_id,
                                  payer_id=payer_id if isinstance(payer_id, int) else None)
    if charged is None:
        # Either the invoice was paid twice, or this very charge was recorded a moment ago by a concurrent report
        # of it (the update delivered twice, or racing the reconciliation): our read above came before that
        # commit, and this statement sees it. Only another charge is stray; returning our own would refund a
        # purchase that goes on to be made.
        held = stars.get_payment(conn, id=payment["id"])
        if held is not None and held["telegram_payment_charge_id"] == charge_id:
            return "duplicate"
        return _return_stray_charge(conn, payment=payment, charge_id=charge_id, payer_id=payer_id,
                                    reason="the payment was paid already")
    if apply_payment_status(conn, payment=charged, new_status="confirmed") is None:
        return _return_stray_charge(conn, payment=charged, charge_id=charge_id, payer_id=payer_id,
                                    reason=f"the payment was {charged['status']}")
    log(logger, "stars_payment_confirmed", payment_id=payment["id"], amount_stars=amount)
    return "confirmed"


def _return_stray_charge(conn: Connection, *, payment: Mapping[str, Any], charge_id: str, payer_id: Any,
                         reason: str) -> str:
    """A charge of the right amount for one of our payments that cannot take it — paid already (an invoice link
    paid twice: two pre-checkouts approved before either charge arrived) or closed meanwhile: the charge goes
    back whole at once (``refund_stray_charge``), the person is told, the admins see an alert. Nobody is charged
    twice and nobody has to refund by hand."""
    if not isinstance(payer_id, int):
        payer_id = users.owner(conn, id=payment["user_id"])["telegram_id"]  # the link is paid by its owner mostly
    alerted = raise_alert(conn, kind="stars_charge_returned", severity="warning",
                          message=f"Stars charge {charge_id} for payment {payment['id']} returned automatically "
                                  f"({reason})",
                          details={"telegram_payment_charge_id": charge_id, "payment_id": payment["id"]},
                          dedup_key=f"stars_charge_returned:{charge_id}")
    if alerted is not None:  # once per charge, however often Telegram or the reconciliation reports it
        outbox.send(conn, "refund_stray_charge", payment["id"], payer_id, charge_id)
        log(logger, "stars_charge_returned", payment_id=payment["id"], reason=reason)
    return "returned"


def refund_stray_charge(services: Services, *, payment_id: int, payer_id: int, charge_id: str) -> bool:
    """Give a stray charge back (refundStarPayment; Telegram refunds a charge once, a repeat is
    ``already_refunded``); True when it went back now, False when it had already. A refusal is alerted for a
    person to handle and raises Permanent."""
    try:
        services.telegram.refund_star_payment(user_id=payer_id, telegram_payment_charge_id=charge_id)
    except TelegramError as err:
        if err.already_refunded:
            return False
        if err.retryable:
            raise
        with services.pool.connection() as conn, conn.transaction():
            payment = payments.get(conn, id=payment_id)
            _alert_unmatched(conn, charge_id=charge_id, payment=payment,
                             reason=f"its automatic refund was refused: {err.message[:120]}")
        raise Permanent(f"stray Stars charge refund refused: {err.message}") from err
    return True


def tell_stray_charge_returned(conn: Connection, *, payment_id: int, payer_id: int) -> None:
    """Tell the person who paid twice that the second payment went back (in the caller's exactly-once step)."""
    payment = payments.get(conn, id=payment_id)
    if payment is None:
        return
    owner = users.owner(conn, id=payment["user_id"])
    outbox.send(conn, "send_bot_reply", owner["id"], payer_id,
                bot_texts.stars_second_charge_notice(amount_stars=payment["amount_stars"]), None)


def _alert_unmatched(conn: Connection, *, charge_id: str, payment: Mapping[str, Any] | None, reason: str) -> None:
    raise_alert(conn, kind="stars_payment_unmatched", severity="critical",
                message=f"Stars charge {charge_id} does not fit payment "
                        f"{payment['id'] if payment else '(none)'} ({reason}): refund it or start it by hand",
                details={"telegram_payment_charge_id": charge_id, "payment_id": payment["id"] if payment else None},
                dedup_key=f"stars_payment_unmatched:{charge_id}")


# -- refunds -------------------------------------------------------------------------------------------------------

STARS_FULL_REFUND = "stars_full"  # refunds.reason of a whole Stars charge refunded (the person is told here)

def settle_stars_refund(services: Services, job: dict[str, Any], payment: dict[str, Any], *,
                        retry_refused: bool = False) -> dict[str, Any] | None:
    """What a Stars job owes: a job that made nothing is refunded whole (refundStarPayment, once: the refund row
    keyed by the payment, the charge refunded once at Telegram); the missing portraits of a partial job are
    credited as free portraits. The person is told in the chat either way, here (in Stars or portraits, not
    rubles). The refund row, or None when nothing was refunded in money. Called by
    ``usecases.refunds.settle_refund`` for rail 'stars'."""
    missing = job["total_photos"] - job["photos_stored"] if job["status"] == "failed" else job["photos_failed"]
    if missing <= 0:
        return None
    if job["photos_stored"] > 0:
        with services.pool.connection() as conn, conn.transaction():
            grant_missing(conn, job=job, missing=missing)
        return None
    return _refund_whole_charge(services, job, payment, retry_refused=retry_refused)


def _refund_whole_charge(services: Services, job: dict[str, Any], payment: dict[str, Any], *,
                         retry_refused: bool) -> dict[str, Any] | None:
    """refundStarPayment once. A refund Telegram refused stays refused (and alerted) unless ``retry_refused`` —
    an operator's retry (``python -m workers.replay refund JOB``), which reopens it."""
    key = f"pinglass-stars-{payment['id']}-refund"
    with services.pool.connection() as conn, conn.transaction():
        payment = payments.get(conn, id=payment["id"]) or payment
        amount = payment["amount_kopecks"] - payment["refunded_kopecks"]
        if amount <= 0:
            return refunds.get_refund_by_key(conn, external_request_id=key)
        refund = refunds.insert_refund(conn, payment_id=payment["id"], job_id=job["id"], amount_kopecks=amount,
                                       photos_refunded=job["total_photos"], reason=STARS_FULL_REFUND,
                                       external_request_id=key)
    if refund["status"] == "failed" and retry_refused:
        with services.pool.connection() as conn:
            refund = refunds.reopen_refund(conn, id=refund["id"]) or refund
    if refund["status"] != "pending":
        return refund
    payer_id = payment["telegram_payer_id"]
    if payer_id is None:  # reconciled from a transaction without its user: the link is paid by its owner mostly
        with services.pool.connection() as conn:
            payer_id = users.owner(conn, id=payment["user_id"])["telegram_id"]
    try:
        services.telegram.refund_star_payment(user_id=payer_id,
                                              telegram_payment_charge_id=payment["telegram_payment_charge_id"])
        provider_status = "refunded"
    except TelegramError as err:
        if err.already_refunded:  # our earlier call went through but its answer was lost: refunded once
            provider_status = "already_refunded"
        elif err.retryable:
            raise
        else:
            _refund_refused(services, job, refund, err)
            raise Permanent(f"Stars refund refused: {err.message}") from err
    with services.pool.connection() as conn, conn.transaction():
        finished = refunds.finish_refund(conn, id=refund["id"], status="succeeded", provider_status=provider_status)
        if finished is not None:
            payments.add_refunded(conn, id=payment["id"], amount=finished["amount_kopecks"])
            reverse_for_refund(conn, refund=finished, percent=services.settings.referral_percent)
            user = users.owner(conn, id=payment["user_id"])
            text = bot_texts.stars_refund_notice(total=job["total_photos"], amount_stars=payment["amount_stars"])
            outbox.send(conn, "send_bot_reply", user["id"], user["telegram_id"], text, None)
            raise_alert(conn, kind="refund", severity="info",
                        message=f"refunded {payment['amount_stars']} ⭐ for job {job['id']}: no photo of "
                                f"{job['total_photos']} made",
                        details={"job_id": job["id"], "refund_id": refund["id"], "rail": "stars"})
    log(logger, "stars_refund_done", job_id=job["id"], payment_id=payment["id"], stars=payment["amount_stars"])
    return finished or refund


def _refund_refused(services: Services, job: dict[str, Any], refund: dict[str, Any], err: TelegramError) -> None:
    with services.pool.connection() as conn, conn.transaction():
        refunds.finish_refund(conn, id=refund["id"], status="failed", provider_status=None, error=err.message[:300])
        raise_alert(conn, kind="refund_failed", severity="critical",
                    message=f"Stars refund of job {job['id']} refused by Telegram: {err.message[:200]}",
                    details={"job_id": job["id"], "refund_id": refund["id"]},
                    dedup_key=f"refund_failed:{refund['id']}")


# -- reconciliation ------------------------------------------------------------------------------------------------

def reconcile_stars(services: Services) -> int:
    """Apply Stars charges whose update we missed (getStarTransactions); how many were applied. Called by the
    ``reconcile_payments`` actor. Asks Telegram nothing while no Stars payment is open; pages back (newest
    first) until the transactions are older than the oldest open payment."""
    with services.pool.connection() as conn:
        open_rows = stars.open_payments(conn)
    if not open_rows:
        return 0
    open_ids = {row["id"] for row in open_rows}
    oldest = min(row["created_at"] for row in open_rows).timestamp() - 60  # clocks differ a little
    applied = 0
    for page in range(RECONCILE_MAX_PAGES):
        batch = services.telegram.get_star_transactions(offset=page * RECONCILE_PAGE, limit=RECONCILE_PAGE)
        for item in batch:
            if item.incoming and _names_open_payment(item.invoice_payload, open_ids):
                applied += _apply_reconciled(services, item)
        if len(batch) < RECONCILE_PAGE or batch[-1].date < oldest:
            break
    if applied:
        log(logger, "stars_reconciled", applied=applied)
    return applied


def _names_open_payment(payload: str | None, open_ids: set[int]) -> bool:
    parts = (payload or "").split(".")
    return len(parts) == 3 and parts[1].isdigit() and int(parts[1]) in open_ids


def _apply_reconciled(services: Services, item: Any) -> int:
    with services.pool.connection() as conn, conn.transaction():
        payment = payment_of_payload(conn, services.settings.callback_signing_key, item.invoice_payload)
        outcome = apply_charge(conn, services.settings, payload=item.invoice_payload, charge_id=item.id,
                               currency=CURRENCY, amount=item.amount, payer_id=item.user_id)
    if outcome == "confirmed":
        log(logger, "stars_charge_reconciled", payment_id=payment["id"] if payment else None, charge_id=item.id)
    return 1 if outcome == "confirmed" else 0
