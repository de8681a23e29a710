"""GET /api/v1/home: everything the Mini App's home screen shows, in one call — the person's avatars, orders,
referral card and free-portrait balance, each exactly as its own route answers it (GET /api/v1/avatars,
/orders, /referrals/me, /credits). It is the first thing a person opening the app asks for: one request (one
limiter check, one registration on first sight, one connection) instead of four sent together; a hundred people
opening the app in the same second ask the web a hundred times, not four hundred (docs/bench.md)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from web.api.avatars import avatars_body
from web.api.common import connection
from web.api.credits import credits_body
from web.api.orders import orders_body
from web.api.referrals import referrals_body
from web.auth import require_user

blueprint = Blueprint("home", __name__)


@blueprint.get("/v1/home")
@require_user
def home():
    with connection() as conn:  # reads only: no BEGIN/COMMIT round trips
        return jsonify({"avatars": avatars_body(conn, g.user), "orders": orders_body(conn, g.user),
                        "referrals": referrals_body(conn, g.user), "credits": credits_body(conn, g.user)})
