"""The fake's Telegram Stars (XTR) Bot API methods: ``createInvoiceLink``, ``answerPreCheckoutQuery``,
``refundStarPayment`` and ``getStarTransactions``. The invoice page and the payment itself (the pre-checkout round
trip, then the ``successful_payment`` update) are ``sandbox.telegram.invoices``.

What Telegram refuses, refused here with its 400 descriptions: a Stars invoice is ``currency: "XTR"``, an empty
``provider_token``, exactly one price of 1..10000 Stars, a payload of 1..128 bytes, a title of 1..32 and a
description of 1..255 characters. A refund returns a whole charge, once (``CHARGE_ALREADY_REFUNDED`` after that),
and only to the user who paid it. ``getStarTransactions`` lists incoming payments (``source``: the paying user
with the invoice payload) and refunds (``receiver``) newest first, ``offset`` / ``limit`` (1..100) paged; a
refund's transaction id is the charge's id, as Telegram's is.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from flask import request

from sandbox.telegram.checks import Refused
from sandbox.telegram.state import FakeTelegramState

Params = dict[str, Any]
STARS_CURRENCY = "XTR"
PAYLOAD_MAX_BYTES = 128
TITLE_MAX, DESCRIPTION_MAX = 32, 255
STARS_MAX = 10_000
TRANSACTIONS_MAX = 100


def create_invoice_link(state: FakeTelegramState, params: Params) -> str:
    """Record a pending invoice and return its link, served by this fake at ``/invoice/<slug>``."""
    title, description = params.get("title"), params.get("description")
    if not isinstance(title, str) or not 1 <= len(title) <= TITLE_MAX:
        raise Refused("Bad Request: TITLE_INVALID")
    if not isinstance(description, str) or not 1 <= len(description) <= DESCRIPTION_MAX:
        raise Refused("Bad Request: DESCRIPTION_INVALID")
    payload = params.get("payload")
    if not isinstance(payload, str) or not 1 <= len(payload.encode()) <= PAYLOAD_MAX_BYTES:
        raise Refused("Bad Request: PAYLOAD_INVALID")
    if params.get("currency") != STARS_CURRENCY:
        raise Refused("Bad Request: CURRENCY_INVALID")
    if params.get("provider_token") not in (None, ""):
        raise Refused("Bad Request: PROVIDER_TOKEN_INVALID")  # Stars take no payment provider
    amount = _one_price(params.get("prices"))
    slug = secrets.token_urlsafe(12)
    invoice = {"slug": slug, "title": title, "description": description, "payload": payload,
               "currency": STARS_CURRENCY, "total_amount": amount, "status": "pending", "error_message": None,
               "telegram_payment_charge_id": None, "payer_id": None, "created_at": time.time()}
    with state.lock:
        state.invoices[slug] = invoice
    return f"{request.host_url.rstrip('/')}/invoice/{slug}"


def answer_pre_checkout_query(state: FakeTelegramState, params: Params) -> bool:
    """The bot's answer to a pre-checkout query still waiting (too late, or twice: QUERY_ID_INVALID)."""
    query_id = params.get("pre_checkout_query_id")
    ok = params.get("ok")
    if isinstance(ok, str):
        ok = {"true": True, "false": False}.get(ok.lower(), ok)
    if not isinstance(ok, bool):
        raise Refused("Bad Request: ok must be a boolean")
    error = params.get("error_message")
    if not ok and (not isinstance(error, str) or not error.strip()):
        raise Refused("Bad Request: ERROR_MESSAGE_EMPTY")  # a refusal must tell the person why
    if not take_pre_checkout_answer(state, str(query_id or ""), ok=ok, error_message=error if not ok else None,
                                    via="api"):
        raise Refused("Bad Request: query is too old and response timeout expired or query ID is invalid")
    return True


def take_pre_checkout_answer(state: FakeTelegramState, query_id: str, *, ok: bool, error_message: str | None,
                             via: str) -> bool:
    """Hand an answer to the waiting query; False when no query with that id waits (answered or timed out)."""
    with state.lock:
        waiter = state.pre_checkout_waiters.get(query_id)
        if waiter is None or waiter.answer is not None:
            return False
        waiter.answer = {"ok": ok, "error_message": error_message}
        state.pre_checkout_answers.append({"pre_checkout_query_id": query_id, "ok": ok,
                                           "error_message": error_message, "via": via, "at": time.time()})
    waiter.event.set()
    return True


def refund_star_payment(state: FakeTelegramState, params: Params) -> bool:
    """Return a whole charge to the user who paid it, once."""
    charge_id = params.get("telegram_payment_charge_id")
    user_id = _int(params.get("user_id"))
    if not isinstance(charge_id, str) or not charge_id:
        raise Refused("Bad Request: CHARGE_ID_EMPTY")
    with state.lock:
        charge = state.charges.get(charge_id)
        if charge is None or user_id != charge["payer"]["id"]:
            raise Refused("Bad Request: CHARGE_NOT_FOUND")
        if charge["refunded"]:
            raise Refused("Bad Request: CHARGE_ALREADY_REFUNDED")
        charge["refunded"] = True
        state.star_transactions.append({
            "id": charge_id, "amount": charge["total_amount"], "date": int(time.time()),
            "receiver": {"type": "user", "transaction_type": "invoice_payment", "user": charge["payer"],
                         "invoice_payload": charge["invoice_payload"]}})
    return True


def get_star_transactions(state: FakeTelegramState, params: Params) -> dict[str, Any]:
    """The bot's Star transactions, newest first, from ``offset`` (default 0), at most ``limit`` (default 100)."""
    offset = _int(params.get("offset", 0))
    limit = _int(params.get("limit", TRANSACTIONS_MAX))
    if offset is None or offset < 0 or limit is None or not 1 <= limit <= TRANSACTIONS_MAX:
        raise Refused("Bad Request: offset must be >= 0 and limit within 1..100")
    with state.lock:
        newest_first = list(reversed(state.star_transactions))
    return {"transactions": newest_first[offset:offset + limit]}


def record_charge(state: FakeTelegramState, invoice: dict[str, Any], payer: dict[str, Any]) -> dict[str, Any]:
    """The money moved: a charge with Telegram's ids and its incoming transaction (call with the lock held)."""
    charge = {"telegram_payment_charge_id": "stxp" + secrets.token_urlsafe(24),
              "provider_payment_charge_id": f"{payer['id']}_{secrets.randbelow(10**9)}",
              "total_amount": invoice["total_amount"], "currency": STARS_CURRENCY,
              "invoice_payload": invoice["payload"], "payer": payer, "refunded": False, "slug": invoice["slug"]}
    state.charges[charge["telegram_payment_charge_id"]] = charge
    state.star_transactions.append({
        "id": charge["telegram_payment_charge_id"], "amount": charge["total_amount"], "date": int(time.time()),
        "source": {"type": "user", "transaction_type": "invoice_payment", "user": payer,
                   "invoice_payload": invoice["payload"]}})
    return charge


def _one_price(raw: Any) -> int:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise Refused("Bad Request: can't parse prices JSON object") from None
    if not isinstance(raw, list) or len(raw) != 1 or not isinstance(raw[0], dict):
        raise Refused("Bad Request: STARS_INVOICE_INVALID")  # a Stars invoice has exactly one price
    amount = raw[0].get("amount")
    if not isinstance(raw[0].get("label"), str) or isinstance(amount, bool) or not isinstance(amount, int):
        raise Refused("Bad Request: STARS_INVOICE_INVALID")
    if not 1 <= amount <= STARS_MAX:
        raise Refused("Bad Request: STARS_INVOICE_INVALID")
    return amount


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


STARS_METHODS = {
    "createInvoiceLink": create_invoice_link, "answerPreCheckoutQuery": answer_pre_checkout_query,
    "refundStarPayment": refund_star_payment, "getStarTransactions": get_star_transactions,
}
