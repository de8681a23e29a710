"""The bot's conversation in rows and messages: an update recorded once by the webhook and queued for the
``handle_telegram_update`` actor; a command answered (``/start``, ``/status``, ``/help``, anything else); the bot
blocked or unblocked in a private chat; an album's one answer. Every answer goes out as a ``send_bot_reply``
message in the same transaction that marks the update handled. Photos are ``usecases.bot_photos``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from db import avatars, bot, jobs, outbox, users
from gateways.telegram import inline_keyboard, web_app_button
from rules import bot_texts
from usecases.users import register_user

if TYPE_CHECKING:
    from psycopg import Connection

    from db.users import TelegramProfile


def record_update(conn: Connection, *, update_id: int, raw: dict[str, Any], media_group_id: str | None) -> bool:
    """Record an update from the webhook and queue its handling; False when it was recorded already."""
    fresh = bot.insert_update(conn, update_id=update_id, raw=raw, media_group_id=media_group_id)
    if fresh:
        outbox.send(conn, "handle_telegram_update", update_id)
    return fresh


def update_to_handle(conn: Connection, *, update_id: int) -> dict[str, Any] | None:
    """The raw update, or None when there is no such update or it was handled already."""
    row = bot.get_update(conn, update_id=update_id)
    if row is None or row["handled_at"] is not None:
        return None
    return row["raw"]


def earlier_unhandled_in_chat(conn: Connection, *, chat_id: int, update_id: int, window_s: float) -> int | None:
    """An earlier update of this chat, received within ``window_s``, still unhandled (its id)."""
    return bot.earlier_unhandled_in_chat(conn, chat_id=chat_id, update_id=update_id, window_s=window_s)


def mark_handled(conn: Connection, *, update_id: int) -> bool:
    """Mark the update handled; False when it already was (the caller then changes nothing)."""
    return bot.mark_handled(conn, update_id=update_id)


def answer_command(conn: Connection, *, update_id: int, sender: TelegramProfile, chat_id: int, command: str,
                   argument: str, not_a_photo: bool, app_url: str) -> dict[str, Any] | None:
    """Answer a text message (``command`` lower case, without ``@bot``): register the sender (``/start``'s
    argument may name who invited them), note they accept messages again, queue the reply. The user's row, or
    None when the update was handled already."""
    if not bot.mark_handled(conn, update_id=update_id):
        return None
    user = register_user(conn, sender, start_param=argument.strip() if command == "/start" else None)
    if user["bot_blocked"]:
        users.set_bot_blocked(conn, id=user["id"], blocked=False)  # they write to us: not blocked any more
    markup = None
    if command == "/start":
        reply = bot_texts.welcome(sender.first_name)
        markup = inline_keyboard([web_app_button("Открыть PinGlass", app_url)])
    elif command == "/status":
        reply = bot_texts.job_status(jobs.latest_purchase_job(conn, user_id=user["id"]))
    elif command == "/help":
        reply = bot_texts.HELP
    elif not_a_photo:
        reply = bot_texts.not_a_photo()
    else:
        reply = bot_texts.UNKNOWN
    outbox.send(conn, "send_bot_reply", user["id"], chat_id, reply, markup)
    return user


def record_membership(conn: Connection, *, update_id: int, change: Mapping[str, Any]) -> tuple[int, bool] | None:
    """The user blocked (``kicked``) or unblocked (``member``) the bot in their private chat with it: stop or
    resume sending to them. Only the private chat counts: being removed from (or added to) a group says nothing
    about whether the person still accepts our messages, and marking them blocked would skip their albums.
    (user id, blocked) when the flag was set, else None."""
    new_member = change.get("new_chat_member")
    status = new_member.get("status") if isinstance(new_member, dict) else None
    chat = change.get("chat")
    private = isinstance(chat, dict) and chat.get("type") == "private"
    sender = change.get("from")
    sender_id = sender.get("id") if isinstance(sender, dict) else None
    if not bot.mark_handled(conn, update_id=update_id):
        return None
    user = users.get_user_by_telegram_id(conn, telegram_id=sender_id) if isinstance(sender_id, int) else None
    if user is not None and private and status in ("kicked", "member"):
        users.set_bot_blocked(conn, id=user["id"], blocked=status == "kicked")
        return user["id"], status == "kicked"
    return None


def album_progress(conn: Connection, *, media_group_id: str) -> dict[str, Any]:
    """How an album's photos are coming in: ``unhandled``, ``quiet_s`` (since the last one), ``age_s``."""
    return bot.group_progress(conn, media_group_id=media_group_id)


def answer_album(conn: Connection, *, chat_id: int, media_group_id: str) -> tuple[dict[str, Any], int] | None:
    """Queue the album's one answer (what was added, duplicated, refused, over the limit, and the avatar's
    total): (the group's counters, total), or None when another message of the group answered it."""
    claimed = bot.claim_group_reply(conn, chat_id=chat_id, media_group_id=media_group_id)
    if claimed is None:
        return None
    total = avatars.reference_count(conn, avatar_id=claimed["avatar_id"]) if claimed["avatar_id"] else 0
    text = bot_texts.references_received(added=claimed["added"], duplicates=claimed["duplicates"],
                                         rejected=claimed["rejected"], over_limit=claimed["over_limit"], total=total)
    outbox.send(conn, "send_bot_reply", claimed["user_id"], chat_id, text, None)
    return claimed, total
