"""Free portraits (the Stars rail's partial policy, ``usecases.credits``): GET /api/v1/credits shows the balance
and its history; POST /api/v1/credits/redeem spends the whole balance on a job for one of the person's avatars."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from psycopg import Connection

from usecases import credits
from usecases.errors import Refused
from web.api.common import connection, id_field, iso, json_object, not_found, text_field, transaction
from web.auth import require_user
from web.errors import ApiError

blueprint = Blueprint("credits", __name__)


@blueprint.get("/v1/credits")
@require_user
def get_credits():
    with connection() as conn:  # reads only: no BEGIN/COMMIT round trips
        return jsonify(credits_body(conn, g.user))


def credits_body(conn: Connection, user: dict[str, Any]) -> dict[str, Any]:
    """GET /api/v1/credits's answer (also part of GET /api/v1/home)."""
    found = credits.credits_of_user(conn, user_id=user["id"])
    return {"balance": found["balance"],
            "history": [{"job_id": row["job_id"], "photos": row["photos"], "kind": row["kind"],
                         "created_at": iso(row["created_at"])} for row in found["history"]]}


@blueprint.post("/v1/credits/redeem")
@require_user
def redeem():
    body = json_object()
    avatar_id = id_field(body, "avatar_id")
    style_id = text_field(body, "style_id")
    try:
        with transaction() as conn:
            job = credits.redeem(conn, user_id=g.user["id"], avatar_id=avatar_id, style_id=style_id)
    except Refused as refused:
        if refused.code == "NOT_FOUND":
            raise not_found("avatar") from None
        raise ApiError(422, refused.code, refused.message) from None
    return jsonify({"job_id": job["id"], "photos": job["total_photos"]}), 201
