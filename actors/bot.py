"""The Telegram bot, driven by the updates the webhook recorded.

- ``handle_telegram_update(update_id)``: ``/start [ref_<code>]`` registers the user (and who invited them) and
  answers with a button into the Mini App; ``/status`` answers with the latest order's progress; ``/help``;
  photos (and images sent as files) become references of the user's draft avatar (``usecases.bot_photos``);
  the bot being blocked or unblocked is recorded. Each update is handled once, however often it is delivered.
- ``reply_media_group(chat_id, media_group_id)``: the one answer to an album, once all its photos are in.
- ``send_bot_reply(user_id, chat_id, text, reply_markup)``: every answer goes out here, within our Telegram
  rate limits; a chat that blocked the bot marks the user blocked and is not retried; a reply whose answer was
  lost after it left (it may be in the chat) is not sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import dramatiq

import runtime
from gateways.telegram import TelegramError
from runtime.limits import acquire_telegram
from runtime.outcomes import Defer, Permanent
from runtime.unit import effect_once
from telemetry.logs import log
from usecases import bot, bot_photos
from usecases.bot_photos import IncomingFile
from usecases.users import set_bot_blocked

logger = logging.getLogger("actors.bot")

ALBUM_QUIET_S = 1.0  # no new photo of the album for this long: it is complete
ALBUM_MAX_WAIT_S = 60.0  # answer with what arrived even if a photo's handling is stuck (dead-lettered)
CHAT_ORDER_WINDOW_S = 120.0  # an earlier update still unhandled after this no longer holds its chat back

# -- reading a photo and its sender out of an update (the rest is usecases.bot_photos.take_photo) -----------

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class Sender:
    """The ``from`` of an update, in the shape ``usecases.users.register_user`` takes."""

    id: int
    username: str | None
    first_name: str | None
    language_code: str | None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Sender:
        return cls(id=int(raw["id"]), username=raw.get("username"), first_name=raw.get("first_name"),
                   language_code=raw.get("language_code"))


def incoming_file(message: Mapping[str, Any]) -> IncomingFile | None:
    """The photo in a message (its largest size) or an image sent as a file; None for anything else."""
    photo = message.get("photo")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict) and photo[-1].get("file_id"):
        item = photo[-1]  # sizes come smallest first
    else:
        document = message.get("document")
        if not isinstance(document, dict) or not document.get("file_id"):
            return None
        item = document
        mime = str(item.get("mime_type") or "")
        name = str(item.get("file_name") or "").lower()
        if not mime.startswith("image/") and not name.endswith(IMAGE_SUFFIXES):
            return None
    size = item.get("file_size")
    return IncomingFile(file_id=str(item["file_id"]), file_unique_id=item.get("file_unique_id"),
                        declared_size=size if isinstance(size, int) else None)


@dramatiq.actor(queue_name="bot", max_retries=6, min_backoff=1000, max_backoff=30_000)
def handle_telegram_update(update_id: int) -> None:
    services = runtime.current()
    with services.pool.connection() as conn:
        update = bot.update_to_handle(conn, update_id=update_id)
    if update is None:
        return
    message = update.get("message")
    if isinstance(update.get("my_chat_member"), dict):
        _membership(update_id, update["my_chat_member"])
        return
    if not _usable(message):
        _ignore(update_id)
        return
    with services.pool.connection() as conn:
        earlier = bot.earlier_unhandled_in_chat(conn, chat_id=message["chat"]["id"], update_id=update_id,
                                                window_s=CHAT_ORDER_WINDOW_S)
    if earlier is not None:
        # Workers take updates in parallel; a user's "/start ref_A" then "/start ref_B", or a photo then
        # "/status", must be handled in the order they were sent.
        raise Defer(250, f"update {earlier} of this chat first")
    sender = Sender.of(message["from"])
    file = incoming_file(message)
    if file is not None:
        bot_photos.take_photo(services, update_id=update_id, chat_id=int(message["chat"]["id"]),
                              media_group_id=message.get("media_group_id"), sender=sender, file=file)
        return
    _text(update_id, message, sender)


def _usable(message: Any) -> TypeGuard[dict[str, Any]]:
    return (isinstance(message, dict) and isinstance(message.get("from"), dict)
            and isinstance(message["from"].get("id"), int) and isinstance(message.get("chat"), dict)
            and isinstance(message["chat"].get("id"), int))


def _text(update_id: int, message: Mapping[str, Any], sender: Sender) -> None:
    settings = runtime.current().settings
    chat_id = int(message["chat"]["id"])
    raw = message.get("text")
    text = raw if isinstance(raw, str) else ""
    command, _, argument = text.strip().partition(" ")
    command = command.split("@", 1)[0].lower()  # "/start@PinGlassBot" in groups
    with effect_once("handle_telegram_update") as conn:
        if conn is None:
            return
        user = bot.answer_command(conn, update_id=update_id, sender=sender, chat_id=chat_id, command=command,
                                  argument=argument, app_url=settings.public_url("/app/"),
                                  not_a_photo=message.get("document") is not None or message.get("video") is not None)
        if user is None:
            return
    log(logger, "bot_command", update_id=update_id, command=command if command.startswith("/") else "text",
        referred=user["referred_by"] is not None)


def _membership(update_id: int, change: Mapping[str, Any]) -> None:
    """The bot blocked or unblocked in a private chat (``usecases.bot.record_membership``)."""
    with effect_once("handle_telegram_update") as conn:
        if conn is None:
            return
        changed = bot.record_membership(conn, update_id=update_id, change=change)
    if changed is not None:
        log(logger, "bot_membership", user_id=changed[0], blocked=changed[1])


def _ignore(update_id: int) -> None:
    with effect_once("handle_telegram_update") as conn:
        if conn is not None:
            bot.mark_handled(conn, update_id=update_id)


@dramatiq.actor(queue_name="bot", max_retries=5, min_backoff=500, max_backoff=10_000)
def reply_media_group(chat_id: int, media_group_id: str) -> None:
    services = runtime.current()
    with services.pool.connection() as conn:
        progress = bot.album_progress(conn, media_group_id=media_group_id)
    arriving = progress["unhandled"] > 0 or float(progress["quiet_s"] or 0) < ALBUM_QUIET_S
    if arriving and float(progress["age_s"] or 0) < ALBUM_MAX_WAIT_S:
        raise Defer(500, "the album is still arriving")
    with effect_once("reply_media_group") as conn:
        if conn is None:
            return
        answered = bot.answer_album(conn, chat_id=chat_id, media_group_id=media_group_id)
        if answered is None:
            return  # another reply message of this group already answered
        claimed, total = answered
    log(logger, "bot_album_answered", chat_id=chat_id, media_group_id=media_group_id, added=claimed["added"],
        total=total)


@dramatiq.actor(queue_name="bot", max_retries=5, min_backoff=1000, max_backoff=30_000)
def send_bot_reply(user_id: int, chat_id: int, text: str, reply_markup: dict[str, Any] | None = None) -> None:
    services = runtime.current()
    settings = services.settings
    wait_s = acquire_telegram(services.redis, chat_id=chat_id, cost=1, chat_rate=settings.tg_chat_rate,
                              chat_burst=settings.tg_chat_burst, global_rate=settings.tg_global_rate,
                              global_burst=settings.tg_global_burst,
                              namespace=settings.broker_namespace)
    if wait_s > 0:
        raise Defer(int(wait_s * 1000) + 50, "telegram flood limit (ours)")
    # The dedup row commits only with a sent (or blocked) reply: a failed send rolls it back and is retried,
    # a redelivered message after success finds it and sends nothing twice.
    with effect_once("send_bot_reply") as conn:
        if conn is None:
            return
        try:
            services.telegram.send_message(chat_id, text, reply_markup=reply_markup)
        except TelegramError as err:
            if err.blocked:
                set_bot_blocked(conn, user_id=user_id, blocked=True)
                log(logger, "bot_reply_blocked", user_id=user_id)
                return
            if err.outcome_unknown:
                # The answer was lost after the request left: the reply may be in the chat. Like an album chunk
                # (usecases/sending.py), a reply is never sent twice when we cannot know its first send failed.
                log(logger, "bot_reply_outcome_unknown", level=logging.WARNING, user_id=user_id)
                return
            if err.retry_after is not None:
                raise Defer(int(err.retry_after * 1000) + 100, "telegram 429 retry_after") from None
            if err.retryable:
                raise
            raise Permanent(f"telegram refused the reply: {err.message}") from None
    log(logger, "bot_reply_sent", user_id=user_id)
