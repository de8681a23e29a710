"""POST /api/v1/photos/<id>/regenerate: make that portrait again, with the same prompt, as a one-photo job
that is delivered alone.

Each purchase has an allowance of regenerations: ``max(1, total_photos * regenerate_percent // 100)``. It is
spent by a conditional UPDATE (two racing requests cannot both take the last one) in the same transaction that
creates the new job. A regenerated photo charges the purchase it came from, so chains of regenerations cannot
mint fresh allowances.
"""

from __future__ import annotations

import logging

from flask import Blueprint, g, jsonify

from db import jobs, photos
from rules.states import JOB_TERMINAL
from telemetry.logs import log
from usecases.generation import start_regeneration
from web.api.common import ID, fleet, not_found, transaction
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.photos")
blueprint = Blueprint("photos", __name__)


def regeneration_allowance(total_photos: int, percent: int) -> int:
    return max(1, total_photos * percent // 100)


@blueprint.post(f"/v1/photos/<{ID}:photo_id>/regenerate")
@require_user
def regenerate(photo_id: int):
    user_id = g.user["id"]
    percent = fleet().settings.regenerate_percent
    with transaction() as conn:
        photo = photos.get_photo(conn, id=photo_id)
        if photo is None or photo["user_id"] != user_id:
            raise not_found("photo")
        job = jobs.get_job(conn, id=photo["job_id"], user_id=user_id)
        root = job if job["kind"] == "purchase" else jobs.get_job(conn, id=job["parent_job_id"], user_id=user_id)
        if job["status"] not in JOB_TERMINAL or root["status"] not in JOB_TERMINAL:
            raise ApiError(409, "JOB_NOT_FINISHED", "a photo can be regenerated once its album is delivered")
        allowance = regeneration_allowance(root["total_photos"], percent)
        spent = jobs.use_regeneration(conn, id=root["id"], allowance=allowance)
        if spent is None:
            raise ApiError(409, "REGENERATION_LIMIT", f"this album's {allowance} regenerations are used up")
        child = start_regeneration(conn, parent=root, prompt_index=photo["prompt_index"])
    log(logger, "regeneration_started", user_id=user_id, photo_id=photo_id, parent_job_id=root["id"],
        job_id=child["id"], used=spent["regenerations_used"], allowance=allowance)
    used = spent["regenerations_used"]
    return jsonify({"job_id": child["id"], "parent_job_id": root["id"], "regenerations_used": used,
                    "regenerations_left": allowance - used}), 202
