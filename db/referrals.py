"""What a user's invitations brought: people invited, who of them paid, and the earnings."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.errors import translated
from db.queries import sql


def stats(conn: Connection, *, user_id: int) -> dict[str, Any]:
    """``invited`` (people registered with the user's code), ``paying`` (of them, who paid) and
    ``earned_kopecks`` (sum of referral credits)."""
    with translated():
        row = conn.execute(sql("referrals.stats"), {"user_id": user_id}).fetchone()
    return {"invited": int(row["invited"]), "paying": int(row["paying"]),
            "earned_kopecks": int(row["earned_kopecks"])}
