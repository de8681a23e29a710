"""A photo sent to the bot becomes a reference photo of the user's draft avatar.

One update, one photo: download it from Telegram, normalise it as an upload is (decoded, upright, no metadata,
big enough, exactly one face — refused before it counts toward the avatar's photos), put it in our S3, then in
one transaction — with the update marked handled — add the reference (``usecases.references.add_references``:
deduplicated by SHA-256, at most MAX_REFERENCES per avatar) and queue the reply. A lone photo is answered at
once, a refused one with the reason (no face, several faces, too small, ...); the photos of an album (separate
updates sharing ``media_group_id``) are counted on their group, and the first of them schedules the group's one
reply a little later (``reply_media_group``), which counts the refused photos and says what a photo needs.
Selfies are stored only after consent: without it the answer asks for it instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from db import avatars, bot, outbox, users
from db.bot import PhotoOutcome
from gateways.storage import StorageError, reference_key
from gateways.telegram import TelegramError
from rules import bot_texts
from rules.images import MAX_BYTES, ImageRejected
from rules.uploads import NormalisedImage, normalise_upload
from runtime import Services
from runtime.unit import effect_once, transaction
from telemetry.logs import log
from usecases import privacy
from usecases.bot import mark_handled
from usecases.errors import Refused
from usecases.references import NewReference, add_references
from usecases.users import register_user

if TYPE_CHECKING:
    from db.users import TelegramProfile

logger = logging.getLogger("actors.bot")  # the bot's log lines keep their logger

GROUP_REPLY_DELAY_MS = 1500  # albums arrive as a burst of updates; answer once the burst is over
DRAFT_NAME = "Фото из Telegram"


@dataclass(frozen=True)
class IncomingFile:
    file_id: str
    file_unique_id: str | None
    declared_size: int | None


def take_photo(services: Services, *, update_id: int, chat_id: int, media_group_id: Any, sender: TelegramProfile,
               file: IncomingFile) -> None:
    """Handle one photo update end to end (see the module docstring). Retryable Telegram or storage errors
    propagate, so the message is retried; an unreadable photo is counted as rejected and answered."""
    group = media_group_id
    with transaction() as conn:
        user = register_user(conn, sender)
        avatar_id = _draft_avatar(conn, user) if privacy.has_consent(user) else None
    if avatar_id is None:  # selfies are stored only after consent: the answer asks for it instead
        with effect_once("handle_telegram_update") as conn:
            if conn is not None and mark_handled(conn, update_id=update_id):
                privacy.ask_consent_in_bot(conn, user_id=user["id"], chat_id=chat_id, settings=services.settings,
                                           media_group_id=None if group is None else str(group))
        return
    image, refusal = _download(services, file)
    key = None
    if image is not None:
        key = reference_key(avatar_id, secret=services.settings.callback_signing_key)
        services.storage.put(key, image.data, image.content_type)
    kept = False
    try:
        with effect_once("handle_telegram_update") as conn:
            if conn is None or not mark_handled(conn, update_id=update_id):
                return
            if user["bot_blocked"]:
                users.set_bot_blocked(conn, id=user["id"], blocked=False)  # they write to us: not blocked any more
            outcome = _add_reference(conn, user_id=user["id"], avatar_id=avatar_id, image=image, key=key,
                                     file=file)
            kept = outcome.added == 1
            if group is not None:
                if bot.count_group_photo(conn, chat_id=chat_id, media_group_id=str(group), user_id=user["id"],
                                         avatar_id=avatar_id, outcome=outcome):
                    outbox.send(conn, "reply_media_group", chat_id, str(group), delay_ms=GROUP_REPLY_DELAY_MS)
            else:
                total = avatars.reference_count(conn, avatar_id=avatar_id)
                outbox.send(conn, "send_bot_reply", user["id"], chat_id,
                            bot_texts.references_received(total=total, refusal=refusal, **asdict(outcome)))
        log(logger, "bot_photo", update_id=update_id, avatar_id=avatar_id, media_group_id=group,
            added=outcome.added, duplicate=outcome.duplicates, rejected=outcome.rejected,
            over_limit=outcome.over_limit, refusal=refusal)
    finally:
        if key is not None and not kept:
            _forget(services, key)  # a duplicate, a 16th photo or a failed transaction leaves no orphan


def _draft_avatar(conn: Any, user: Mapping[str, Any]) -> int:
    """The user's draft avatar (the one the bot adds photos to), created on first need."""
    locked = users.lock_user(conn, id=user["id"])
    if locked["draft_avatar_id"] is not None:
        avatar = avatars.get_avatar(conn, id=locked["draft_avatar_id"], user_id=user["id"])
        if avatar is not None:
            return avatar["id"]
    avatar = avatars.insert_avatar(conn, user_id=user["id"], name=DRAFT_NAME)
    users.set_draft_avatar(conn, id=user["id"], avatar_id=avatar["id"])
    return avatar["id"]


def _download(services: Services, file: IncomingFile) -> tuple[NormalisedImage | None, str | None]:
    """The photo normalised, or None and why (an ImageRejected code, e.g. NO_FACE; None when Telegram would not
    give it to us): too big, not decodable, too small, no face or several faces."""
    if file.declared_size is not None and file.declared_size > MAX_BYTES:
        return None, "IMAGE_TOO_LARGE"
    try:
        located = services.telegram.get_file(file.file_id)
        data = services.telegram.download_file(located.file_path)
        return normalise_upload(data), None
    except TelegramError as err:
        if err.retryable:
            raise
        log(logger, "bot_photo_unavailable", level=logging.WARNING, code=err.code)
        return None, None
    except ImageRejected as err:
        log(logger, "bot_photo_rejected", code=err.code)
        return None, err.code


def _add_reference(conn: Any, *, user_id: int, avatar_id: int, image: NormalisedImage | None, key: str | None,
                   file: IncomingFile) -> PhotoOutcome:
    if image is None or key is None:
        return PhotoOutcome(rejected=1)
    photo = NewReference(storage_key=key, image=image, telegram_file_unique_id=file.file_unique_id)
    try:
        result = add_references(conn, avatar_id=avatar_id, user_id=user_id, photos=[photo], source="telegram",
                                all_or_nothing=False)
    except Refused:
        return PhotoOutcome(rejected=1)  # deleted in the Mini App meanwhile
    return PhotoOutcome(added=len(result.added), duplicates=len(result.duplicates),
                        over_limit=len(result.over_limit))


def _forget(services: Services, key: str) -> None:
    try:
        services.storage.delete(key)
    except StorageError as err:  # an orphaned object costs storage, not correctness
        log(logger, "bot_photo_orphaned", level=logging.WARNING, key=key, code=err.code)
