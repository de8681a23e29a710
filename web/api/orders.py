"""GET /api/v1/orders: the person's orders, newest first — what they paid (or can still pay) for, and how far
each generation has come. The Mini App's home lists them; each links to its payment or its generation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from psycopg import Connection

from usecases.orders import orders_of_user
from web.api.common import connection, fleet, iso
from web.auth import require_user

blueprint = Blueprint("orders", __name__)


def order_json(row: dict[str, Any], cover_url: str | None) -> dict[str, Any]:
    job = None
    if row["job_id"] is not None:
        job = {"id": row["job_id"], "status": row["job_status"], "done": row["photos_stored"],
               "failed": row["photos_failed"], "total": row["total_photos"], "finished_at": iso(row["finished_at"])}
    return {"payment_id": row["payment_id"], "payment_status": row["payment_status"], "tier": row["tier"],
            "photo_count": row["photo_count"], "style_id": row["style_id"], "avatar_id": row["avatar_id"],
            "avatar_name": row["avatar_name"], "rail": "stars" if row["rail"] == "stars" else "card",
            "amount_kopecks": row["amount_kopecks"], "amount_stars": row["amount_stars"],
            "refunded_kopecks": row["refunded_kopecks"], "created_at": iso(row["created_at"]), "job": job,
            "cover_url": cover_url}


@blueprint.get("/v1/orders")
@require_user
def list_orders():
    with connection() as conn:  # one read: no BEGIN/COMMIT round trips
        return jsonify(orders_body(conn, g.user))


def orders_body(conn: Connection, user: dict[str, Any]) -> dict[str, Any]:
    """GET /api/v1/orders's answer (also part of GET /api/v1/home)."""
    rows = orders_of_user(conn, user_id=user["id"])
    storage = fleet().services.storage
    return {"orders": [order_json(r, storage.presigned_get(r["cover_key"]) if r["cover_key"] else None)
                       for r in rows]}
