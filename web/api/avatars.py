"""Avatars: create, list, read, and erase (references and generated photos leave our storage).

An avatar is a named set of 5–15 reference selfies (uploaded through ``references.py``); creating one makes
it the user's draft, the avatar that photos sent to the bot are added to.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, g, jsonify

from db import avatars, jobs, payments, photos, users
from rules.references import MAX_REFERENCES, MIN_REFERENCES
from rules.states import JOB_TERMINAL
from telemetry.logs import log
from web.api.common import ID, fleet, iso, json_object, not_found, text_field, transaction
from web.api.me import selfies_delete_at
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.avatars")
blueprint = Blueprint("avatars", __name__)
NAME_MAX = 64  # avatars_name_length


def avatar_json(avatar: dict[str, Any]) -> dict[str, Any]:
    count = int(avatar.get("reference_count") or 0)
    return {"id": avatar["id"], "name": avatar["name"], "reference_count": count,
            "min_references": MIN_REFERENCES, "max_references": MAX_REFERENCES,
            "ready": count >= MIN_REFERENCES, "created_at": iso(avatar["created_at"]),
            "selfies_delete_at": selfies_delete_at(avatar)}


@blueprint.post("/v1/avatars")
@require_user
def create_avatar():
    name = text_field(json_object(), "name").strip()
    if not 1 <= len(name) <= NAME_MAX or any(ch < " " or ch == "\x7f" for ch in name):
        raise ApiError(422, "INVALID_NAME", f"name must be 1..{NAME_MAX} printable characters")
    with transaction() as conn:
        avatar = avatars.insert_avatar(conn, user_id=g.user["id"], name=name)
        users.set_draft_avatar(conn, id=g.user["id"], avatar_id=avatar["id"])
    log(logger, "avatar_created", user_id=g.user["id"], avatar_id=avatar["id"])
    return jsonify(avatar_json({**avatar, "reference_count": 0})), 201


@blueprint.get("/v1/avatars")
@require_user
def list_avatars():
    with transaction() as conn:
        rows = avatars.list_avatars(conn, user_id=g.user["id"])
    storage = fleet().services.storage
    return jsonify({"avatars": [{**avatar_json(a), "thumbnail_url": storage.presigned_get(a["cover_key"])
                                 if a["cover_key"] else None} for a in rows]})


@blueprint.get(f"/v1/avatars/<{ID}:avatar_id>")
@require_user
def get_avatar(avatar_id: int):
    with transaction() as conn:
        avatar = avatars.get_avatar(conn, id=avatar_id, user_id=g.user["id"])
        if avatar is None:
            raise not_found("avatar")
        references = avatars.references_of_avatar(conn, avatar_id=avatar_id)
    storage = fleet().services.storage
    return jsonify({**avatar_json(avatar), "references": [{
        "id": r["id"], "url": storage.presigned_get(r["storage_key"]), "width": r["width"], "height": r["height"],
        "size_bytes": r["size_bytes"], "content_type": r["content_type"], "source": r["source"],
        "created_at": iso(r["created_at"])} for r in references]})


@blueprint.delete(f"/v1/avatars/<{ID}:avatar_id>/references/<{ID}:reference_id>")
@require_user
def remove_reference(avatar_id: int, reference_id: int):
    """Take one selfie out of the avatar (its object leaves storage). Refused while a generation from the
    avatar is paid for or running: its provider tasks are made from the avatar's references."""
    storage = fleet().services.storage
    with transaction() as conn:
        if avatars.get_avatar(conn, id=avatar_id, user_id=g.user["id"], lock=True) is None:
            raise not_found("avatar")
        _refuse_when_busy(conn, avatar_id)
        removed = avatars.delete_reference(conn, id=reference_id, avatar_id=avatar_id)
        if removed is None:
            raise not_found("reference")
        # Inside the transaction: if storage fails, the row comes back and the person can try again.
        storage.delete(removed["storage_key"])
        avatar = avatars.get_avatar(conn, id=avatar_id, user_id=g.user["id"])
    log(logger, "reference_removed", user_id=g.user["id"], avatar_id=avatar_id, reference_id=reference_id)
    return jsonify(avatar_json(avatar))


def _refuse_when_busy(conn, avatar_id: int) -> None:
    made = jobs.jobs_of_avatar(conn, avatar_id=avatar_id)
    running = any(job["status"] not in JOB_TERMINAL for job in made)
    if running or payments.paid_unstarted_payments(conn, avatar_id=avatar_id):
        raise ApiError(409, "AVATAR_BUSY", "a generation from this avatar is paid for or still running; "
                                           "try when it ends")


@blueprint.delete(f"/v1/avatars/<{ID}:avatar_id>")
@require_user
def delete_avatar(avatar_id: int):
    """Erase the avatar: its reference photos and every photo generated from it leave storage, their rows are
    deleted (references) or marked deleted (photos, which account for payments), shares are revoked.

    Objects are deleted while the avatar's row is locked and before the rows change, so a failure leaves the
    avatar in place for a retry rather than rows pointing at nothing or objects nobody can find again.
    """
    storage = fleet().services.storage
    user_id = g.user["id"]
    with transaction() as conn:
        if avatars.get_avatar(conn, id=avatar_id, user_id=user_id, lock=True) is None:
            raise not_found("avatar")
        made = jobs.jobs_of_avatar(conn, avatar_id=avatar_id)
        running = any(job["status"] not in JOB_TERMINAL for job in made)
        if running or payments.paid_unstarted_payments(conn, avatar_id=avatar_id):
            raise ApiError(409, "AVATAR_BUSY", "a generation from this avatar is paid for or still running; "
                                               "try when it ends")
        job_ids = [job["id"] for job in made]
        # Prefixes also catch objects whose rows were never written (an upload that failed half-way).
        storage.delete_prefix(f"references/{avatar_id}/")
        for job_id in job_ids:
            storage.delete_prefix(f"photos/{job_id}/")
            storage.delete_prefix(f"archives/{job_id}/")
        references = avatars.delete_references(conn, avatar_id=avatar_id)
        erased_photos = photos.erase_photos_of_jobs(conn, job_ids=job_ids)
        avatars.soft_delete_avatar(conn, id=avatar_id, user_id=user_id)
        if g.user.get("draft_avatar_id") == avatar_id:
            users.set_draft_avatar(conn, id=user_id, avatar_id=None)
    log(logger, "avatar_erased", user_id=user_id, avatar_id=avatar_id, references=len(references),
        photos=len(erased_photos), jobs=len(job_ids))
    return jsonify({"id": avatar_id, "deleted": True, "references_deleted": len(references),
                    "photos_deleted": len(erased_photos)})
