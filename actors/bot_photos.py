"""Photos sent to the bot become reference photos of the user's draft avatar: this module reads the photo (or
image file) and its sender out of the update; ``usecases.bot_photos.take_photo`` does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime import Services
from usecases import bot_photos
from usecases.bot_photos import IncomingFile

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


def take_photo(services: Services, *, update_id: int, message: Mapping[str, Any], sender: Sender,
               file: IncomingFile) -> None:
    """Handle one photo update end to end (``usecases.bot_photos.take_photo``)."""
    bot_photos.take_photo(services, update_id=update_id, chat_id=int(message["chat"]["id"]),
                          media_group_id=message.get("media_group_id"), sender=sender, file=file)
