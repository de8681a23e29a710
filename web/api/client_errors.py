"""POST /api/v1/client-errors: a JavaScript error the Mini App caught (``window.onerror``, an unhandled promise
rejection), grouped with the fleet's other errors for the admin (``usecases.error_groups``). Only a signed-in
Mini App may report; fields are bounded; a page reports at most a few."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from usecases.error_groups import record_client_error
from web.api.common import json_object, text_field, transaction
from web.auth import require_user
from web.errors import ApiError

blueprint = Blueprint("client_errors", __name__)
LIMITS = {"message": 2000, "where": 300, "stack": 8000}


@blueprint.post("/v1/client-errors")
@require_user
def report_client_error():
    body = json_object()
    values = {name: text_field(body, name, required=name == "message") or "" for name in LIMITS}
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            raise ApiError(413, "FIELD_TOO_LONG", f"{name} is longer than {limit} characters")
    with transaction() as conn:
        record_client_error(conn, message=values["message"], where_=values["where"], stack=values["stack"],
                            user_id=g.user["id"])
    return jsonify({"recorded": True}), 202
