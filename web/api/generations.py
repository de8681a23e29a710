"""Generations: POST /api/v1/generations starts the job a confirmed payment paid for; GET reads its progress.

The start is ``usecases.generation.start_job`` — the same atomic consume the payment notification's actor races on,
so of any number of requests (and the actor) exactly one creates the job (I1); the others get 409
PAYMENT_CONSUMED. With an ``Idempotency-Key`` header the first answer to (user, endpoint, key) is stored in the
same transaction and replayed for every repeat; the same key with a different body is 422
IDEMPOTENCY_KEY_REUSED. Answers of every outcome the endpoint reached are stored (201 and the business
refusals alike), as the same request would otherwise get a different answer later; 400s for a malformed
request are not, since they never reach the key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any

from flask import Blueprint, g, jsonify, request

from rules.signing import zip_download_path
from telemetry.context import correlation_id
from telemetry.logs import log
from usecases import generation_requests as requests_
from usecases.errors import Refused
from usecases.privacy import photos_delete_at
from usecases.regenerations import regeneration_allowance
from web.api.common import ID, connection, fleet, id_field, iso, json_object, not_found, text_field, transaction
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.generations")
blueprint = Blueprint("generations", __name__)

ENDPOINT = "POST /api/v1/generations"
ZIP_LINK_TTL_S = 3600
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, as every client library sends
REFUSAL_STATUS = {"PAYMENT_CONSUMED": 409, "PAYMENT_REQUIRED": 402, "NOT_FOUND": 404, "AVATAR_NOT_READY": 422,
                  "UNKNOWN_STYLE": 422}


@blueprint.post("/v1/generations")
@require_user
def start_generation():
    body = json_object()
    request_ = {"payment_id": id_field(body, "payment_id"), "avatar_id": id_field(body, "avatar_id", required=False),
                "style_id": text_field(body, "style_id", required=False)}
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1..255 printable ASCII characters")
    user_id = g.user["id"]
    request_hash = hashlib.sha256(json.dumps(request_, sort_keys=True).encode()).hexdigest()

    try:
        with transaction() as conn:
            if key is not None:
                earlier = requests_.earlier_answer(conn, user_id=user_id, endpoint=ENDPOINT, key=key,
                                                   request_hash=request_hash)
                if earlier is not None:
                    return _replay(*earlier)
            status, answer = _start(conn, user_id=user_id, **request_)
            if key is not None:
                requests_.store_answer(conn, user_id=user_id, endpoint=ENDPOINT, key=key, status=status,
                                       body=answer)
    except Refused as refused:  # the key's own refusals; nothing was recorded
        raise ApiError(422 if refused.code == "IDEMPOTENCY_KEY_REUSED" else 409, refused.code,
                       refused.message) from None
    return jsonify(answer), status


def _start(conn: Any, *, user_id: int, payment_id: int, avatar_id: int | None,
           style_id: str | None) -> tuple[int, dict[str, Any]]:
    try:
        # A refusal undoes whatever the start wrote, while the idempotency row may still commit.
        job = requests_.start_generation(conn, user_id=user_id, payment_id=payment_id, avatar_id=avatar_id,
                                         style_id=style_id, referral_percent=fleet().settings.referral_percent,
                                         correlation_id=correlation_id())
    except Refused as refused:
        log(logger, "generation_refused", user_id=user_id, payment_id=payment_id, code=refused.code)
        return REFUSAL_STATUS.get(refused.code, 409), _error(refused.code, refused.message)
    log(logger, "generation_started", user_id=user_id, payment_id=payment_id, job_id=job["id"])
    return 201, {"job_id": job["id"], "correlation_id": job["correlation_id"]}


def _replay(status: int, body: dict[str, Any]):
    response = jsonify(body)
    response.status_code = status
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _zip_url(job_id: int) -> str:
    """A signed link to the album's ZIP that needs no Authorization header (a plain download link works in
    Telegram's in-app browser, where a fetch with our header cannot save a file)."""
    settings = fleet().settings
    expires = int(time.time()) + ZIP_LINK_TTL_S
    return settings.public_url(zip_download_path(settings.callback_signing_key, job_id, expires))


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@blueprint.get(f"/v1/generations/<{ID}:job_id>")
@require_user
def get_generation(job_id: int):
    try:
        with connection() as conn:  # one pipelined snapshot (db.jobs.progress_rows)
            progress = requests_.generation_progress(conn, user_id=g.user["id"], job_id=job_id)
    except Refused:
        raise not_found("generation") from None
    job, stages, chunks, album = progress["job"], progress["stages"], progress["chunks"], progress["photos"]
    refund_rows, children = progress["refunds"], progress["children"]
    storage = fleet().services.storage
    done, failed, total = job["photos_stored"], job["photos_failed"], job["total_photos"]
    return jsonify({
        "job_id": job["id"], "kind": job["kind"], "parent_job_id": job["parent_job_id"],
        "payment_id": job["payment_id"], "avatar_id": job["avatar_id"], "style_id": job["style_id"],
        "tier": job["tier"], "status": job["status"], "correlation_id": job["correlation_id"],
        "progress": {"done": done, "failed": failed, "total": total,
                     "percent": round(100 * (done + failed) / total) if total else 100,
                     "stages": {"queued": stages["queued"], "submitted": stages["submitted"],
                                "generating": stages["generating"], "stored": stages["stored"],
                                "failed": stages["failed"], "delivered_chunks": chunks["sent"],
                                "chunks": chunks["total"]}},
        "photos": [{"id": p["id"], "prompt_index": p["prompt_index"], "url": storage.presigned_get(p["storage_key"]),
                    "width": p["width"], "height": p["height"], "content_type": p["content_type"],
                    "created_at": iso(p["created_at"])} for p in album],
        "refunds": [{"id": r["id"], "amount_kopecks": r["amount_kopecks"], "photos_refunded": r["photos_refunded"],
                     "status": r["status"], "reason": r["reason"], "created_at": iso(r["created_at"]),
                     "completed_at": iso(r["completed_at"])} for r in refund_rows],
        "regenerations": [{"job_id": c["id"], "status": c["status"], "created_at": iso(c["created_at"])}
                          for c in children],
        "regenerations_used": job["regenerations_used"],
        "photos_delete_at": iso(photos_delete_at(job, fleet().settings)),
        "regenerations_allowed": regeneration_allowance(job["total_photos"], fleet().settings.regenerate_percent)
        if job["kind"] == "purchase" else 0,
        "zip_url": _zip_url(job["id"]) if album else None,
        "timestamps": {"created_at": iso(job["created_at"]), "generating_at": iso(job["generating_at"]),
                       "delivering_at": iso(job["delivering_at"]), "finished_at": iso(job["finished_at"])},
    })
