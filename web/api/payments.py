"""Checkout: POST /api/v1/payments creates a payment and its T-Bank payment page; GET reads it back.

T-Bank Init is the one provider call the API makes inside a request (the user is waiting for the payment page
anyway). The payment row — with its unique OrderId, T-Bank's idempotency key — is committed before the call,
so the intent is on record whatever happens to the call. If Init fails the answer is 502
PAYMENT_PROVIDER_ERROR and the row stays as it was: status ``new``, no PaymentId, no URL. Nobody can pay it,
the reconciler ignores it (it has no PaymentId to ask about), and the user simply asks for a new payment.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Blueprint, current_app, g, jsonify

from db import avatars, jobs, payments
from gateways.http import HttpClient
from gateways.tbank import TBankClient, TBankError
from rules.catalog import STYLES, parse_tiers
from rules.plural import counted
from rules.references import MIN_REFERENCES
from settings import Settings
from telemetry.logs import log
from web.api.common import ID, fleet, id_field, iso, json_object, not_found, text_field, transaction
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.payments")
blueprint = Blueprint("payments", __name__)

PAYMENT_TTL_S = 24 * 3600  # T-Bank's default link life; our record expires with the link
INIT_TIMEOUT = (3.05, 8.0)  # (connect, read): a user is waiting, and a stuck Init must not hold a web worker
EXTENSION_KEY = "pinglass.api.tbank"


def init_client(settings: Settings) -> TBankClient:
    """The terminal's client with the short timeout the web uses for Init."""
    http = HttpClient("tbank", settings.tbank_base_url, error_type=TBankError, timeout=INIT_TIMEOUT)
    return TBankClient(settings.tbank_base_url, settings.tbank_terminal_key, settings.tbank_password, http=http)


def payment_json(payment: dict[str, Any], job: dict[str, Any] | None) -> dict[str, Any]:
    return {"payment_id": payment["id"], "status": payment["status"], "amount_kopecks": payment["amount_kopecks"],
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
    settings = fleet().settings
    tier = parse_tiers(settings.tiers).get(tier_id)
    if tier is None:
        raise ApiError(422, "UNKNOWN_TIER", f"unknown tier {tier_id!r}")
    if style_id not in STYLES:
        raise ApiError(422, "UNKNOWN_STYLE", f"unknown style {style_id!r}")
    with transaction() as conn:
        avatar = avatars.get_avatar(conn, id=avatar_id, user_id=g.user["id"])
        if avatar is None:
            raise not_found("avatar")
        if avatar["reference_count"] < MIN_REFERENCES:
            raise ApiError(422, "AVATAR_NOT_READY", f"the avatar needs at least {MIN_REFERENCES} reference photos")
        payment = payments.insert(conn, user_id=g.user["id"], avatar_id=avatar_id, style_id=style_id,
                                  tier=tier.id, photo_count=tier.photos, amount_kopecks=tier.price_kopecks,
                                  order_id=uuid.uuid4().hex, ttl_s=PAYMENT_TTL_S)

    tbank: TBankClient = current_app.extensions[EXTENSION_KEY]
    try:
        init = tbank.init(order_id=payment["order_id"], amount=payment["amount_kopecks"],
                          description="PinGlass: " + counted(tier.photos, "AI-портрет", "AI-портрета", "AI-портретов"),
                          notification_url=settings.public_url("/webhooks/tbank"),
                          success_url=settings.public_url(f"/app/#/payments/{payment['id']}?result=success"),
                          fail_url=settings.public_url(f"/app/#/payments/{payment['id']}?result=fail"),
                          data={"payment_id": str(payment["id"])}, redirect_due_date=payment["expires_at"])
    except TBankError as exc:
        log(logger, "payment_init_failed", level=logging.WARNING, payment_id=payment["id"],
            order_id=payment["order_id"], code=exc.code, retryable=exc.retryable)
        raise ApiError(502, "PAYMENT_PROVIDER_ERROR", "the payment provider did not answer; try again") from None

    with transaction() as conn:
        payment = payments.set_provider(conn, id=payment["id"], provider_payment_id=init.payment_id,
                                        payment_url=init.payment_url) or payments.get(conn, id=payment["id"])
    log(logger, "payment_created", user_id=g.user["id"], payment_id=payment["id"], tier=tier.id,
        amount=payment["amount_kopecks"], provider_payment_id=init.payment_id)
    return jsonify(payment_json(payment, None)), 201


@blueprint.get(f"/v1/payments/<{ID}:payment_id>")
@require_user
def get_payment(payment_id: int):
    with transaction() as conn:
        payment = payments.get(conn, id=payment_id, user_id=g.user["id"])
        if payment is None:
            raise not_found("payment")
        job = jobs.get_job_by_payment(conn, payment_id=payment_id)
    return jsonify(payment_json(payment, job))
