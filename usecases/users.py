"""The people we know: a Telegram user registered (or their profile refreshed) when they open the Mini App or
write to the bot, with whoever invited them; and whether they still accept the bot's messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import users
from db.users import TelegramProfile

if TYPE_CHECKING:
    from psycopg import Connection


def register_user(conn: Connection, tg_user: TelegramProfile, *, start_param: str | None = None) -> dict[str, Any]:
    """The user's row, created on first sight (``start_param`` ``ref_<code>`` records who invited them)."""
    return users.register_user(conn, tg_user, start_param=start_param)


def set_bot_blocked(conn: Connection, *, user_id: int, blocked: bool) -> None:
    users.set_bot_blocked(conn, id=user_id, blocked=blocked)
