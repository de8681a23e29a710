"""Telegram Stars payments (rail 'stars' of ``payments``) and the bot updates decided in the webhook request."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.queries import fetch_all, fetch_one, fetch_row

Row = dict[str, Any]


def insert_payment(conn: Connection, *, user_id: int, avatar_id: int, style_id: str, tier: str, photo_count: int,
                   amount_kopecks: int, amount_stars: int, order_id: str, ttl_s: int,
                   correlation_id: str | None = None) -> Row:
    return fetch_row(conn, "stars.insert_payment", {
        "user_id": user_id, "avatar_id": avatar_id, "style_id": style_id, "tier": tier, "photo_count": photo_count,
        "amount_kopecks": amount_kopecks, "amount_stars": amount_stars, "order_id": order_id, "ttl_s": ttl_s,
        "correlation_id": correlation_id})


def set_invoice_url(conn: Connection, *, id: int, invoice_url: str) -> Row | None:
    return fetch_one(conn, "stars.set_invoice_url", {"id": id, "invoice_url": invoice_url})


def get_payment(conn: Connection, *, id: int) -> Row | None:
    """The payment (either rail) with ``expired_now``: past its life by the database's clock."""
    return fetch_one(conn, "stars.get_payment", {"id": id})


def record_charge(conn: Connection, *, id: int, charge_id: str, payer_id: int | None) -> Row | None:
    """Set the Stars payment's Telegram charge; None when it already has one (a duplicated update)."""
    return fetch_one(conn, "stars.record_charge", {"id": id, "charge_id": charge_id, "payer_id": payer_id})


def open_payments(conn: Connection) -> list[Row]:
    """Stars payments without a charge, ``new`` or expired in the last 3 days: ``id`` and ``created_at``."""
    return fetch_all(conn, "stars.open_payments", {})


def record_update(conn: Connection, *, update_id: int, raw: dict[str, Any], answer: dict[str, Any]) -> bool:
    """Record an update the webhook decided itself, handled, with ``answer``; False when already recorded."""
    return fetch_one(conn, "stars.record_update", {"update_id": update_id, "raw": Jsonb(raw),
                                                   "answer": Jsonb(answer)}) is not None
