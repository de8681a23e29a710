"""Referral earnings: one credit per payment, the reversals refunds make of it, and what a user's invitations
brought."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import fetch_all, fetch_one, fetch_row

Row = dict[str, Any]


def stats(conn: Connection, *, user_id: int) -> dict[str, Any]:
    """``invited`` (people registered with the user's code), ``paying`` (of them, who paid),
    ``earned_kopecks`` (sum of referral credits) and ``reversed_kopecks`` (what refunds took back of them)."""
    row = fetch_row(conn, "referrals.stats", {"user_id": user_id})
    return {"invited": int(row["invited"]), "paying": int(row["paying"]),
            "earned_kopecks": int(row["earned_kopecks"]), "reversed_kopecks": int(row["reversed_kopecks"])}


def insert_referral(conn: Connection, *, payment_id: int, referrer_user_id: int, referred_user_id: int,
                    amount_kopecks: int) -> bool:
    return fetch_one(conn, "referrals.insert_referral", {
        "payment_id": payment_id, "referrer_user_id": referrer_user_id,
        "referred_user_id": referred_user_id, "amount_kopecks": amount_kopecks}) is not None


def lock_earning_of_payment(conn: Connection, *, payment_id: int) -> Row | None:
    """The payment's credit locked for this transaction, with ``paid_kopecks`` (the payment's amount) and
    ``refunded_before_kopecks`` (the refunds already accounted for in its reversals); None when not credited."""
    return fetch_one(conn, "referrals.lock_earning_of_payment", {"payment_id": payment_id})


def insert_reversal(conn: Connection, *, refund_id: int, earning_id: int, amount_kopecks: int) -> bool:
    """Record the refund's reversal; False when this refund was reversed already."""
    return fetch_one(conn, "referrals.insert_reversal", {
        "refund_id": refund_id, "earning_id": earning_id, "amount_kopecks": amount_kopecks}) is not None


def add_reversed(conn: Connection, *, id: int, amount_kopecks: int) -> Row | None:
    return fetch_one(conn, "referrals.add_reversed", {"id": id, "amount_kopecks": amount_kopecks})


def referrer_balances(conn: Connection, *, limit: int) -> list[Row]:
    """Per referrer: ``payments``, ``paying``, ``earned_kopecks``, ``reversed_kopecks``, ``balance_kopecks``."""
    return fetch_all(conn, "referrals.referrer_balances", {"limit": limit})
