"""The Telegram bot's records: updates received by the webhook, and the albums users send, answered once each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.queries import execute, fetch_one, fetch_row

Row = dict[str, Any]


def insert_update(conn: Connection, *, update_id: int, raw: dict[str, Any], media_group_id: str | None) -> bool:
    """Record an update from the webhook; False when this update_id was already recorded (a re-send)."""
    return fetch_one(conn, "bot.insert_update", {"update_id": update_id, "raw": Jsonb(raw),
                                            "media_group_id": media_group_id}) is not None


def get_update(conn: Connection, *, update_id: int) -> Row | None:
    return fetch_one(conn, "bot.get_update", {"update_id": update_id})


def earlier_unhandled_in_chat(conn: Connection, *, chat_id: int, update_id: int, window_s: float) -> int | None:
    """The id of an earlier update of this chat that is not handled yet (received within ``window_s``)."""
    row = fetch_one(conn, "bot.earlier_unhandled_in_chat",
                    {"chat_id": str(chat_id), "update_id": update_id, "window_s": window_s})
    return row["update_id"] if row else None


def mark_handled(conn: Connection, *, update_id: int) -> bool:
    """Mark the update handled; False when it already was (the caller then changes nothing)."""
    return fetch_one(conn, "bot.mark_handled", {"update_id": update_id}) is not None


@dataclass(frozen=True)
class PhotoOutcome:
    """What became of one photo a user sent: exactly one of the counters is 1."""

    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    over_limit: int = 0


def count_group_photo(conn: Connection, *, chat_id: int, media_group_id: str, user_id: int,
                      avatar_id: int | None, outcome: PhotoOutcome) -> bool:
    """Add one photo's outcome to its album's counters; True when this photo must schedule the album's reply
    (no reply was pending), False when a scheduled reply will count it too."""
    key = {"chat_id": chat_id, "media_group_id": media_group_id}
    execute(conn, "bot.ensure_group", {**key, "user_id": user_id, "avatar_id": avatar_id})
    row = fetch_row(conn, "bot.count_group_photo", {
        **key, "avatar_id": avatar_id, "added": outcome.added, "duplicates": outcome.duplicates,
        "rejected": outcome.rejected, "over_limit": outcome.over_limit})
    return not row["was_pending"]


def group_progress(conn: Connection, *, media_group_id: str) -> Row:
    """``unhandled`` updates of the album, seconds since its newest (``quiet_s``) and oldest (``age_s``) arrived."""
    return fetch_row(conn, "bot.group_progress", {"media_group_id": media_group_id})


def claim_group_reply(conn: Connection, *, chat_id: int, media_group_id: str) -> Row | None:
    """Take the album's counters for its reply; None when no reply is pending (another message answered)."""
    return fetch_one(conn, "bot.claim_group_reply", {"chat_id": chat_id, "media_group_id": media_group_id})


def purge_old(conn: Connection, *, older_than_s: float) -> int:
    """Forget handled updates and answered album groups older than ``older_than_s``; returns rows removed."""
    params = {"older_than_s": older_than_s}
    return execute(conn, "bot.purge_handled_updates", params) + execute(conn, "bot.purge_media_groups", params)
