"""Checkout: POST /api/v1/payments creates a payment on the rail the person chose — ``"card"`` (default): its
T-Bank payment page (``usecases.payments.checkout``, given the web's short-timeout T-Bank client: a stuck Init must not
hold a web worker); ``"stars"``: a Telegram Stars invoice link the Mini App opens with ``openInvoice``
(``usecases.stars``). GET reads it back. A failed Init or createInvoiceLink is 502 PAYMENT_PROVIDER_ERROR, and the
user simply asks for a new payment; a person holding too many open checkouts gets 429 TOO_MANY_CHECKOUTS.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify

from gateways.http import HttpClient
from gateways.tbank import TBankClient, TBankError
from rules.catalog import STYLES, parse_tiers
from settings import Settings
from usecases import payments, stars
from usecases.errors import Refused
from web.api.common import ID, connection, fleet, id_field, iso, json_object, not_found, text_field, transaction
from web.auth import require_user
from web.errors import ApiError

blueprint = Blueprint("payments", __name__)

INIT_TIMEOUT = (3.05, 8.0)  # (connect, read): a user is waiting, and a stuck Init must not hold a web worker
EXTENSION_KEY = "pinglass.api.tbank"
RAILS = ("card", "stars")


def init_client(settings: Settings) -> TBankClient:
    """The terminal's client with the short timeout the web uses for Init."""
    http = HttpClient("tbank", settings.tbank_base_url, error_type=TBankError, timeout=INIT_TIMEOUT)
    return TBankClient(settings.tbank_base_url, settings.tbank_terminal_key, settings.tbank_password, http=http)


def payment_json(payment: dict[str, Any], job: dict[str, Any] | None) -> dict[str, Any]:
    is_stars = payment["rail"] == "stars"
    return {"payment_id": payment["id"], "status": payment["status"], "amount_kopecks": payment["amount_kopecks"],
            "rail": "stars" if is_stars else "card", "amount_stars": payment["amount_stars"],
            "invoice_url": payment["payment_url"] if is_stars else None,
            "refunded_kopecks": payment["refunded_kopecks"], "order_id": payment["order_id"],
            "provider_payment_id": payment["provider_payment_id"], "payment_url": payment["payment_url"],
            "tier": payment["tier"], "photo_count": payment["photo_count"], "style_id": payment["style_id"],
            "avatar_id": payment["avatar_id"], "consumed": payment["consumed"],
            "job_id": job["id"] if job is not None else None, "created_at": iso(payment["created_at"]),
            "expires_at": iso(payment["expires_at"])}


@blueprint.post("/v1/payments")
@require_user
def create_payment():
    body = json_object()
    avatar_id = id_field(body, "avatar_id")
    style_id = text_field(body, "style_id")
    tier_id = text_field(body, "tier")
    rail = text_field(body, "rail", required=False) or "card"
    email = text_field(body, "email", required=False)
    settings = fleet().settings
    tier = parse_tiers(settings.tiers).get(tier_id)
    if tier is None:
        raise ApiError(422, "UNKNOWN_TIER", f"unknown tier {tier_id!r}")
    if style_id not in STYLES:
        raise ApiError(422, "UNKNOWN_STYLE", f"unknown style {style_id!r}")
    if rail not in RAILS:
        raise ApiError(422, "UNKNOWN_RAIL", f"rail must be one of {', '.join(RAILS)}")
    try:
        if rail == "stars":
            payment = stars.checkout_stars(fleet().services.pool, fleet().services.telegram, settings,
                                           user_id=g.user["id"], avatar_id=avatar_id, style_id=style_id, tier=tier)
        else:
            tbank: TBankClient = current_app.extensions[EXTENSION_KEY]
            payment = payments.checkout(fleet().services.pool, tbank, settings, user_id=g.user["id"],
                                        avatar_id=avatar_id, style_id=style_id, tier=tier, email=email)
    except Refused as refused:
        raise _http(refused) from None
    return jsonify(payment_json(payment, None)), 201


@blueprint.get(f"/v1/payments/<{ID}:payment_id>")
@require_user
def get_payment(payment_id: int):
    try:
        with connection() as conn:  # one pipelined snapshot (db.payments.with_job)
            payment, job = payments.payment_of_user(conn, user_id=g.user["id"], payment_id=payment_id)
    except Refused:
        raise not_found("payment") from None
    return jsonify(payment_json(payment, job))


@blueprint.post(f"/v1/payments/<{ID}:payment_id>/cancel")
@require_user
def cancel_payment(payment_id: int):
    """An unpaid Stars invoice the person closed (openInvoice "cancelled"): it stops holding a checkout."""
    try:
        with transaction() as conn:
            payment = stars.cancel_unpaid(conn, user_id=g.user["id"], payment_id=payment_id)
    except Refused as refused:
        if refused.code == "NOT_FOUND":
            raise not_found("payment") from None
        raise ApiError(409, refused.code, refused.message) from None
    return jsonify(payment_json(payment, None))


def _http(refused: Refused) -> ApiError:
    if refused.code == "NOT_FOUND":
        return not_found("avatar")
    if refused.code == "PAYMENT_PROVIDER_ERROR":
        return ApiError(502, refused.code, refused.message)
    if refused.code == "TOO_MANY_CHECKOUTS":
        return ApiError(429, refused.code, refused.message)
    return ApiError(422, refused.code, refused.message)
