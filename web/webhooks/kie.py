"""``POST /webhooks/kie?task=<id>&sig=<hex>``: a Kie.ai task finished (docs/providers.md#callback).

The callback is only a speed-up: its URL's signature proves we issued it for our task ``task``, and then it
queues a one-off ``poll_task`` so the result is read from Kie itself. The body is never trusted (anyone can
POST); when the Kie account signs its callbacks (``KIE_WEBHOOK_KEY``) that signature is required as well.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, jsonify, request

from gateways.kie import verify_webhook_signature
from rules.signing import verify
from telemetry import metrics
from telemetry.logs import log
from usecases.generation import poll_task_now
from web.errors import ApiError

logger = logging.getLogger("web.webhooks.kie")
MAX_ID_DIGITS = 18  # every id we issue fits a bigint


def receive() -> Any:
    fleet = current_app.extensions["pinglass"]
    settings = fleet.settings
    task = request.args.get("task", "")
    # Shape first (ASCII digits of a bigint), then the signature: a hostile query string gets 403, never a 500.
    if not (task.isascii() and task.isdigit() and len(task) <= MAX_ID_DIGITS) or not verify(
            settings.callback_signing_key, "kie-callback", int(task), request.args.get("sig", "")):
        raise _refused("the callback URL's signature does not verify")
    if settings.kie_webhook_key and not _kie_signed(settings.kie_webhook_key):
        raise _refused("the callback lacks Kie's valid X-Webhook-Signature")
    task_id = int(task)
    with fleet.services.pool.connection() as conn, conn.transaction():
        poll_task_now(conn, task_id=task_id)
    metrics.WEBHOOKS.labels("kie", "accepted").inc()
    log(logger, "kie_callback", task_id=task_id)
    return jsonify({"ok": True})


def _kie_signed(key: str) -> bool:
    body = request.get_json(silent=True)
    data = body.get("data") if isinstance(body, dict) else None
    kie_task_id = data.get("taskId") if isinstance(data, dict) else None
    if not isinstance(kie_task_id, str):
        kie_task_id = body.get("taskId") if isinstance(body, dict) else None
    if not isinstance(kie_task_id, str):
        return False
    return verify_webhook_signature(key, kie_task_id, request.headers.get("X-Webhook-Timestamp", ""),
                                    request.headers.get("X-Webhook-Signature", ""))


def _refused(message: str) -> ApiError:
    metrics.WEBHOOKS.labels("kie", "rejected_403").inc()
    log(logger, "kie_callback_refused", level=logging.WARNING)
    return ApiError(403, "BAD_SIGNATURE", message)
