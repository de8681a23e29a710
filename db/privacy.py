"""Rows of privacy: consent, the facts the retention sweep decides on, and the erasure of a person.

Typed functions over the named queries of ``db/queries/privacy.sql``; they never commit (the caller owns the
transaction) and decide nothing — ``usecases.privacy`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from db.queries import execute, fetch_all, fetch_one, fetch_row

Row = dict[str, Any]


def accept(conn: Connection, *, id: int, version: str, now: datetime) -> Row | None:
    """Record the user's acceptance of policy ``version`` (the first time is kept); the user row."""
    return fetch_one(conn, "privacy.accept_privacy", {"id": id, "version": version, "now": now})


def lock_user(conn: Connection, *, id: int) -> Row | None:
    return fetch_one(conn, "privacy.lock_user", {"id": id})


def lock_avatar_nowait(conn: Connection, *, id: int) -> bool:
    """Lock the avatar's row unless someone holds it; False when held (or gone)."""
    return fetch_one(conn, "privacy.lock_avatar_nowait", {"id": id}) is not None


def avatars_with_selfies(conn: Connection, *, after_id: int, limit: int) -> list[int]:
    """Ids of avatars holding reference photos, ascending, after ``after_id`` (keyset pages)."""
    return _ids_after(conn, "privacy.avatars_with_selfies", after_id, limit)


def selfie_retention(conn: Connection, *, avatar_ids: list[int]) -> list[Row]:
    """Per avatar: ``avatar_id``, ``last_used_at``, ``busy``, ``open_payment_until`` (see the query)."""
    return _rows_of(conn, "privacy.selfie_retention", "avatar_ids", avatar_ids)


def jobs_with_live_photos(conn: Connection, *, after_id: int, limit: int) -> list[int]:
    """Ids of jobs that still have photos not marked deleted, ascending, after ``after_id``."""
    return _ids_after(conn, "privacy.jobs_with_live_photos", after_id, limit)


def jobs_by_ids(conn: Connection, *, job_ids: list[int]) -> list[Row]:
    """``id``, ``avatar_id``, ``user_id``, ``status``, ``finished_at`` of the jobs."""
    return _rows_of(conn, "privacy.jobs_by_ids", "job_ids", job_ids)


def _ids_after(conn: Connection, query: str, after_id: int, limit: int) -> list[int]:
    """A keyset page of the ``id`` column: ``limit`` ids above ``after_id``, ascending."""
    return [row["id"] for row in fetch_all(conn, query, {"after_id": after_id, "limit": limit})]


def _rows_of(conn: Connection, query: str, parameter: str, ids: list[int]) -> list[Row]:
    """The query's rows for ``ids`` (passed as ``parameter``); no round trip for an empty list."""
    return fetch_all(conn, query, {parameter: ids}) if ids else []


def avatars_of_user(conn: Connection, *, user_id: int) -> list[Row]:
    """Every avatar of the user, erased ones included, locked for update."""
    return fetch_all(conn, "privacy.avatars_of_user", {"user_id": user_id})


def jobs_of_user(conn: Connection, *, user_id: int) -> list[Row]:
    return fetch_all(conn, "privacy.jobs_of_user", {"user_id": user_id})


def user_busy(conn: Connection, *, user_id: int) -> bool:
    """True while a job of the user runs or a payment of theirs is paid and has not started its job."""
    return bool(fetch_row(conn, "privacy.user_busy", {"user_id": user_id})["busy"])


def delete_references_of_avatars(conn: Connection, *, avatar_ids: list[int]) -> list[str]:
    """Delete the avatars' reference rows; their storage keys."""
    rows = _rows_of(conn, "privacy.delete_references_of_avatars", "avatar_ids", avatar_ids)
    return [row["storage_key"] for row in rows]


def soft_delete_avatars_of_user(conn: Connection, *, user_id: int, now: datetime) -> list[int]:
    rows = fetch_all(conn, "privacy.soft_delete_avatars_of_user", {"user_id": user_id, "now": now})
    return [row["id"] for row in rows]


def revoke_shares_of_user(conn: Connection, *, user_id: int, now: datetime) -> int:
    return execute(conn, "privacy.revoke_shares_of_user", {"user_id": user_id, "now": now})


def forget_payment_emails(conn: Connection, *, user_id: int) -> int:
    return execute(conn, "privacy.forget_payment_emails", {"user_id": user_id})


def blank_user(conn: Connection, *, id: int) -> Row | None:
    """Clear the Telegram profile fields, the draft avatar and the consent; the user row."""
    return fetch_one(conn, "privacy.blank_user", {"id": id})


def forget_bot_updates(conn: Connection, *, telegram_id: int) -> int:
    """Delete the handled bot updates this Telegram user sent; how many."""
    return execute(conn, "privacy.forget_bot_updates", {"telegram_id": str(telegram_id)})


def claim_consent_notice(conn: Connection, *, chat_id: int, media_group_id: str, user_id: int) -> bool:
    """True for the first photo of an album sent without consent (it answers for the album), else False."""
    return fetch_one(conn, "privacy.claim_consent_notice",
                     {"chat_id": chat_id, "media_group_id": media_group_id, "user_id": user_id}) is not None
