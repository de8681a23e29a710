"""``POST /webhooks/tbank``: T-Bank payment notifications (docs/providers.md#notifications).

Five steps: verify the Token, check the notification against our record (TerminalKey, OrderId, Amount — a
refund's and a receipt's may be less than the payment's), store the raw event deduplicated on (PaymentId, Status)
(per fiscal document for RECEIPT) and move the payment monotonically — both
``usecases.payments.take_notification``, which also queues ``consume_payment`` for a newly confirmed payment,
records a RECEIPT's fiscal document, alerts once on a status we do not know and on money taken after we closed the
payment — and answer exactly ``OK``. A rejected
notification writes nothing. Redis being down does not matter here: the outbox row waits for the relay.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, request

from gateways.tbank import InvalidNotification, TBankNotification, parse_notification, verify_notification
from telemetry import metrics
from telemetry.logs import log
from usecases import payments as payment_status
from web.errors import ApiError

logger = logging.getLogger("web.webhooks.tbank")


def receive() -> Response:
    fleet = current_app.extensions["pinglass"]
    settings = fleet.settings
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _refused(400, "INVALID_NOTIFICATION", "the body must be a JSON object")
    if not verify_notification(body, settings.tbank_password):
        raise _refused(403, "BAD_TOKEN", "the notification's Token does not verify")
    try:
        note = parse_notification(body)
    except InvalidNotification as err:
        raise _refused(400, "INVALID_NOTIFICATION", str(err)) from None
    if note.terminal_key != settings.tbank_terminal_key:
        raise _refused(422, "TERMINAL_MISMATCH", "the notification is for another terminal")

    with fleet.services.pool.connection() as conn, conn.transaction():
        payment = _checked_against_record(
            note, payment_status.payment_by_provider_id(conn, provider_payment_id=note.payment_id))
        fresh, moved = payment_status.take_notification(
            conn, payment=payment, provider_payment_id=note.payment_id, bank_status=note.status,
            order_id=note.order_id, amount_kopecks=note.amount, raw=note.raw)

    outcome = "accepted" if fresh else "duplicate"
    metrics.WEBHOOKS.labels("tbank", outcome).inc()
    log(logger, "tbank_notification", outcome=outcome, payment_id=payment["id"], provider_payment_id=note.payment_id,
        tbank_status=note.status, moved_to=moved["status"] if moved else None)
    # T-Bank counts anything but exactly "OK" as a failed delivery and re-sends it for a day.
    return Response("OK", status=200, mimetype="text/plain")


def _checked_against_record(note: TBankNotification, payment: dict[str, Any] | None) -> dict[str, Any]:
    """Our payment the notification is about, once it matches our record; the 4xx ApiError otherwise."""
    if payment is None:
        raise _refused(404, "UNKNOWN_PAYMENT", "no payment has this PaymentId")
    if note.order_id != payment["order_id"]:
        raise _refused(422, "ORDER_MISMATCH", "OrderId does not match the payment")
    mismatch = payment_status.amount_mismatch(bank_status=note.status, amount_kopecks=note.amount, payment=payment)
    if mismatch:
        raise _refused(422, "AMOUNT_MISMATCH", mismatch)
    return payment


def _refused(status: int, code: str, message: str) -> ApiError:
    metrics.WEBHOOKS.labels("tbank", f"rejected_{status}").inc()
    log(logger, "tbank_notification_refused", level=logging.WARNING, code=code)
    return ApiError(status, code, message)
