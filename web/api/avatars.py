"""Avatars: create, list, read, and erase (references and generated photos leave our storage).

An avatar is a named set of 5–15 reference selfies (uploaded through ``references.py``); creating one makes
it the user's draft, the avatar that photos sent to the bot are added to.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify
from psycopg import Connection

from rules.catalog import MAX_REFERENCES, MIN_REFERENCES
from telemetry.logs import log
from usecases import avatars, privacy
from usecases.errors import Refused
from web.api.common import ID, connection, fleet, iso, json_object, text_field, transaction
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.avatars")
blueprint = Blueprint("avatars", __name__)
NAME_MAX = 64  # avatars_name_length


def avatar_json(avatar: dict[str, Any], delete_at: dict[int, datetime]) -> dict[str, Any]:
    """The avatar's JSON; ``delete_at``: when avatars' selfies are erased, by id (``_delete_dates``)."""
    count = int(avatar.get("reference_count") or 0)
    return {"id": avatar["id"], "name": avatar["name"], "reference_count": count,
            "min_references": MIN_REFERENCES, "max_references": MAX_REFERENCES,
            "ready": count >= MIN_REFERENCES, "created_at": iso(avatar["created_at"]),
            "selfies_delete_at": iso(delete_at.get(avatar["id"]))}


def _delete_dates(conn: Connection, avatars_: list[dict[str, Any]]) -> dict[int, datetime]:
    """When each avatar's selfies are erased, read on the view's own connection (one statement for them all)."""
    return privacy.selfies_delete_dates(conn, avatar_ids=[a["id"] for a in avatars_], settings=fleet().settings)


@blueprint.post("/v1/avatars")
@require_user
def create_avatar():
    name = text_field(json_object(), "name").strip()
    if not 1 <= len(name) <= NAME_MAX or any(ch < " " or ch == "\x7f" for ch in name):
        raise ApiError(422, "INVALID_NAME", f"name must be 1..{NAME_MAX} printable characters")
    with transaction() as conn:
        avatar = avatars.create_avatar(conn, user_id=g.user["id"], name=name)
        delete_at = _delete_dates(conn, [avatar])
    log(logger, "avatar_created", user_id=g.user["id"], avatar_id=avatar["id"])
    return jsonify(avatar_json({**avatar, "reference_count": 0}, delete_at)), 201


@blueprint.get("/v1/avatars")
@require_user
def list_avatars():
    with connection() as conn:  # reads only: no BEGIN/COMMIT round trips
        return jsonify(avatars_body(conn, g.user))


def avatars_body(conn: Connection, user: dict[str, Any]) -> dict[str, Any]:
    """GET /api/v1/avatars's answer (also part of GET /api/v1/home)."""
    rows = avatars.avatars_of_user(conn, user_id=user["id"])
    delete_at = _delete_dates(conn, rows)
    storage = fleet().services.storage
    return {"avatars": [{**avatar_json(a, delete_at), "thumbnail_url": storage.presigned_get(a["cover_key"])
                         if a["cover_key"] else None} for a in rows]}


@blueprint.get(f"/v1/avatars/<{ID}:avatar_id>")
@require_user
def get_avatar(avatar_id: int):
    try:
        with connection() as conn:  # reads only
            avatar, references = avatars.avatar_of_user(conn, user_id=g.user["id"], avatar_id=avatar_id)
            delete_at = _delete_dates(conn, [avatar])
    except Refused as refused:
        raise _http(refused) from None
    storage = fleet().services.storage
    return jsonify({**avatar_json(avatar, delete_at), "references": [{
        "id": r["id"], "url": storage.presigned_get(r["storage_key"]), "width": r["width"], "height": r["height"],
        "size_bytes": r["size_bytes"], "content_type": r["content_type"], "source": r["source"],
        "created_at": iso(r["created_at"])} for r in references]})


@blueprint.delete(f"/v1/avatars/<{ID}:avatar_id>/references/<{ID}:reference_id>")
@require_user
def remove_reference(avatar_id: int, reference_id: int):
    """Take one selfie out of the avatar (``usecases.avatars.remove_reference``)."""
    try:
        with transaction() as conn:
            avatar = avatars.remove_reference(conn, fleet().services.storage, user_id=g.user["id"],
                                              avatar_id=avatar_id, reference_id=reference_id)
            delete_at = _delete_dates(conn, [avatar])
    except Refused as refused:
        raise _http(refused) from None
    log(logger, "reference_removed", user_id=g.user["id"], avatar_id=avatar_id, reference_id=reference_id)
    return jsonify(avatar_json(avatar, delete_at))


def _http(refused: Refused) -> ApiError:
    if refused.code == "NOT_FOUND":
        return ApiError(404, "NOT_FOUND", refused.message)
    return ApiError(409, refused.code, refused.message)


@blueprint.delete(f"/v1/avatars/<{ID}:avatar_id>")
@require_user
def delete_avatar(avatar_id: int):
    """Erase the avatar and everything generated from it (``usecases.avatars.erase_avatar``)."""
    user_id = g.user["id"]
    try:
        with transaction() as conn:
            erased = avatars.erase_avatar(conn, fleet().services.storage, user=g.user, avatar_id=avatar_id)
    except Refused as refused:
        raise _http(refused) from None
    log(logger, "avatar_erased", user_id=user_id, avatar_id=avatar_id, references=erased.references,
        photos=erased.photos, jobs=erased.jobs)
    return jsonify({"id": avatar_id, "deleted": True, "references_deleted": erased.references,
                    "photos_deleted": erased.photos})
