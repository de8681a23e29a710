"""The person behind the Mini App and their privacy: ``GET /api/v1/me``, ``POST /api/v1/me/privacy`` (accept the
policy; idempotent), ``DELETE /api/v1/me`` (erase their data; ``usecases.privacy.erase_person``).

Also the guards other resources use: ``require_consent`` (selfies are stored only after consent) and the
retention date each avatar's JSON shows.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, g, jsonify

from usecases import privacy
from web.api.common import fleet, iso, transaction
from web.auth import require_user
from web.errors import ApiError

logger = logging.getLogger("web.api.me")
blueprint = Blueprint("me", __name__)


def me_json(user: dict[str, Any]) -> dict[str, Any]:
    settings = fleet().settings
    accepted = privacy.has_consent(user)
    return {"telegram_id": user["telegram_id"], "first_name": user["first_name"],
            "privacy": {"accepted": accepted, "accepted_at": iso(user["privacy_accepted_at"]) if accepted else None,
                        "policy_url": privacy.POLICY_PATH,
                        "selfie_retention_days": settings.selfie_retention_days,
                        "portrait_retention_days": settings.portrait_retention_days}}


@blueprint.get("/v1/me")
@require_user
def get_me():
    return jsonify(me_json(g.user))


@blueprint.post("/v1/me/privacy")
@require_user
def accept_privacy():
    with transaction() as conn:
        user = privacy.accept(conn, user_id=g.user["id"], now=datetime.now(UTC))
    return jsonify(me_json(user))


@blueprint.delete("/v1/me")
@require_user
def erase_me():
    services = fleet().services
    try:
        erased = privacy.erase_person(services.pool, services.storage, user_id=g.user["id"], now=datetime.now(UTC))
    except privacy.UserBusy as busy:
        raise ApiError(409, busy.code, str(busy)) from None
    return jsonify({"erased": True, "avatars": erased.avatars, "references": erased.references,
                    "photos": erased.photos})


def require_consent(user: dict[str, Any]) -> None:
    """409 PRIVACY_NOT_ACCEPTED unless the user accepted the privacy policy (POST /api/v1/me/privacy)."""
    if not privacy.has_consent(user):
        raise ApiError(409, "PRIVACY_NOT_ACCEPTED",
                       "accept the privacy policy (POST /api/v1/me/privacy) before uploading photos")
