"""Forgetting what no redelivery can need any more: dedup rows of processed messages, published outbox rows,
old bot updates and albums."""

from __future__ import annotations

from typing import TYPE_CHECKING

from db import bot, outbox

if TYPE_CHECKING:
    from psycopg import Connection

PROCESSED_KEPT_S = 7 * 24 * 3600
PUBLISHED_KEPT_S = 24 * 3600
BOT_ROWS_KEPT_S = 3 * 24 * 3600


def clean_up(conn: Connection) -> dict[str, int]:
    """Delete what is past its keeping time, in the caller's transaction; how many rows of each."""
    return {"processed_removed": outbox.purge_processed(conn, older_than_s=PROCESSED_KEPT_S),
            "outbox_removed": outbox.purge_published(conn, older_than_s=PUBLISHED_KEPT_S),
            "bot_rows_removed": bot.purge_old(conn, older_than_s=BOT_ROWS_KEPT_S)}
