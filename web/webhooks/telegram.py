"""``POST /webhooks/telegram``: updates of the bot (docs/providers.md#webhook).

The secret header is compared in constant time, the update is recorded once per ``update_id`` (Telegram
re-sends what it thinks unanswered) and handed to the ``handle_telegram_update`` actor; the answer is
immediate, since Telegram holds back the chat's next updates until this one is answered.

Two Telegram Stars updates are decided in the request itself, never behind the worker queues
(``usecases.stars``): a ``pre_checkout_query`` must be answered within 10 s or Telegram cancels the purchase, so
the answer is the response body (``{"method": "answerPreCheckoutQuery", ...}``, which Telegram executes); a
message with ``successful_payment`` confirms the payment in this request's transaction (consume_payment queued
through the outbox, once per Telegram charge).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import current_app, jsonify, request

from telemetry import metrics
from telemetry.logs import log
from usecases import stars
from usecases.bot import record_update
from web.errors import ApiError

logger = logging.getLogger("web.webhooks.telegram")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def receive() -> Any:
    fleet = current_app.extensions["pinglass"]
    expected = fleet.settings.telegram_webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    # An unset secret would make every caller "authentic": refuse everything instead.
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        metrics.WEBHOOKS.labels("telegram", "rejected_403").inc()
        log(logger, "telegram_update_refused", level=logging.WARNING, secret_sent=bool(given))
        raise ApiError(403, "BAD_SECRET", "the secret token header is missing or wrong")
    update = request.get_json(silent=True)
    update_id = update.get("update_id") if isinstance(update, dict) else None
    if (not isinstance(update, dict) or isinstance(update_id, bool) or not isinstance(update_id, int)
            or not 0 <= update_id < 2**63):
        metrics.WEBHOOKS.labels("telegram", "rejected_400").inc()
        raise ApiError(400, "INVALID_UPDATE", "the body must be a JSON update with an integer update_id")

    query = update.get("pre_checkout_query")
    message = update.get("message")
    if isinstance(query, dict):
        return _pre_checkout(fleet, update_id, query)
    if isinstance(message, dict) and isinstance(message.get("successful_payment"), dict):
        return _successful_payment(fleet, update_id, message)
    group = message.get("media_group_id") if isinstance(message, dict) else None
    with fleet.services.pool.connection() as conn, conn.transaction():
        fresh = record_update(conn, update_id=update_id, raw=update,
                              media_group_id=str(group) if group is not None else None)
    outcome = "accepted" if fresh else "duplicate"
    metrics.WEBHOOKS.labels("telegram", outcome).inc()
    log(logger, "telegram_update", update_id=update_id, outcome=outcome)
    return jsonify({"ok": True})


def _pre_checkout(fleet: Any, update_id: int, query: dict[str, Any]) -> Any:
    with fleet.services.pool.connection() as conn, conn.transaction():
        answer = stars.answer_pre_checkout(conn, fleet.settings, update_id=update_id, query=query)
    metrics.WEBHOOKS.labels("telegram", "pre_checkout_ok" if answer["ok"] else "pre_checkout_refused").inc()
    return jsonify(answer)


def _successful_payment(fleet: Any, update_id: int, message: dict[str, Any]) -> Any:
    with fleet.services.pool.connection() as conn, conn.transaction():
        outcome = stars.take_successful_payment(conn, fleet.settings, update_id=update_id, message=message)
    metrics.WEBHOOKS.labels("telegram", f"stars_{outcome}").inc()
    log(logger, "telegram_stars_payment", update_id=update_id, outcome=outcome)
    return jsonify({"ok": True})
