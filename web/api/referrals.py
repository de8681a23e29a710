"""GET /api/v1/referrals/me: the user's invite code and link, who came through it, and what it earned.

Whoever invited a user earns ``referral_percent`` of what the business kept of each of that user's payments:
credited once per payment when the payment starts its generation, and a refund takes back the matching share.
``earnings_kopecks`` is every credit as credited, ``reversed_kopecks`` what refunds took back, and
``balance_kopecks`` the difference (nothing is paid out yet).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from psycopg import Connection

from usecases.users import referral_stats
from web.api.common import connection, fleet
from web.auth import require_user

blueprint = Blueprint("referrals", __name__)


@blueprint.get("/v1/referrals/me")
@require_user
def my_referrals():
    with connection() as conn:  # one read: no BEGIN/COMMIT round trips
        return jsonify(referrals_body(conn, g.user))


def referrals_body(conn: Connection, user: dict[str, Any]) -> dict[str, Any]:
    """GET /api/v1/referrals/me's answer (also part of GET /api/v1/home)."""
    settings = fleet().settings
    code = user["referral_code"]
    stats = referral_stats(conn, user_id=user["id"])
    return {"code": code, "invite_link": f"https://t.me/{settings.telegram_bot_username}?start=ref_{code}",
            "percent": settings.referral_percent, "invited": stats["invited"], "paying": stats["paying"],
            "earnings_kopecks": stats["earned_kopecks"], "reversed_kopecks": stats["reversed_kopecks"],
            "balance_kopecks": stats["balance_kopecks"]}
