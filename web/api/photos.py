"""POST /api/v1/photos/<id>/regenerate: make that portrait again, with the same prompt, as a one-photo job
that is delivered alone.

Each purchase has an allowance of regenerations, spent in the transaction that creates the new job
(``usecases.regenerations``).
"""

from __future__ import annotations

import logging

from flask import Blueprint, g, jsonify

from telemetry.logs import log
from usecases.errors import Refused
from usecases.regenerations import regenerate_photo
from web.api.common import ID, fleet, not_found, transaction
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.photos")
blueprint = Blueprint("photos", __name__)


@blueprint.post(f"/v1/photos/<{ID}:photo_id>/regenerate")
@require_user
def regenerate(photo_id: int):
    user_id = g.user["id"]
    percent = fleet().settings.regenerate_percent
    try:
        with transaction() as conn:
            made = regenerate_photo(conn, user_id=user_id, photo_id=photo_id, percent=percent)
    except Refused as refused:
        if refused.code == "NOT_FOUND":
            raise not_found("photo") from None
        raise ApiError(409, refused.code, refused.message) from None
    child, root, used, allowance = made.job, made.root, made.used, made.allowance
    log(logger, "regeneration_started", user_id=user_id, photo_id=photo_id, parent_job_id=root["id"],
        job_id=child["id"], used=used, allowance=allowance)
    return jsonify({"job_id": child["id"], "parent_job_id": root["id"], "regenerations_used": used,
                    "regenerations_left": allowance - used}), 202
