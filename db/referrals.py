"""Referral earnings: one credit per payment, and what a user's invitations brought."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import fetch_one


def stats(conn: Connection, *, user_id: int) -> dict[str, Any]:
    """``invited`` (people registered with the user's code), ``paying`` (of them, who paid) and
    ``earned_kopecks`` (sum of referral credits)."""
    row = fetch_one(conn, "referrals.stats", {"user_id": user_id})
    return {"invited": int(row["invited"]), "paying": int(row["paying"]),
            "earned_kopecks": int(row["earned_kopecks"])}


def insert_referral(conn: Connection, *, payment_id: int, referrer_user_id: int, referred_user_id: int,
                    amount_kopecks: int) -> bool:
    return fetch_one(conn, "referrals.insert_referral", {
        "payment_id": payment_id, "referrer_user_id": referrer_user_id,
        "referred_user_id": referred_user_id, "amount_kopecks": amount_kopecks}) is not None
