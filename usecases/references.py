"""Adding reference photos (selfies) to an avatar — the one procedure the Mini App's upload and the bot's photo
handler share: under the avatar's row lock (concurrent uploads and album photos are serialised, so the count
is exact), deduplicated by the SHA-256 of the normalised image, at most ``MAX_REFERENCES`` per avatar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from db import avatars
from rules.catalog import MAX_REFERENCES
from rules.uploads import NormalisedImage
from usecases.errors import Refused

if TYPE_CHECKING:
    from psycopg import Connection


@dataclass(frozen=True)
class NewReference:
    """A normalised photo already put in storage under ``storage_key``."""

    storage_key: str
    image: NormalisedImage
    telegram_file_unique_id: str | None = None


@dataclass
class ReferencesAdded:
    added: list[tuple[int, int]] = field(default_factory=list)  # (position in the call, reference id)
    duplicates: list[int] = field(default_factory=list)  # positions the avatar already had
    over_limit: list[int] = field(default_factory=list)  # positions refused because the avatar is full
    total: int = 0  # the avatar's references afterwards


def add_references(conn: Connection, *, avatar_id: int, user_id: int, photos: Sequence[NewReference],
                   source: str, all_or_nothing: bool) -> ReferencesAdded:
    """Add ``photos`` to the user's avatar in the caller's transaction; a photo the avatar already has is a
    duplicate and does not count.

    ``all_or_nothing`` (an upload): a total past MAX_REFERENCES refuses the whole call — Refused
    TOO_MANY_REFERENCES, after which the caller must roll back. Otherwise (the bot) a photo that finds the
    avatar full is counted ``over_limit`` and not added. Refused NOT_FOUND when the avatar is not the user's."""
    if avatars.get_avatar(conn, id=avatar_id, user_id=user_id, lock=True) is None:
        raise Refused("NOT_FOUND", "avatar not found")
    before = avatars.reference_count(conn, avatar_id=avatar_id)
    result = ReferencesAdded(total=before)
    for position, photo in enumerate(photos):
        if not all_or_nothing and result.total >= MAX_REFERENCES:
            result.over_limit.append(position)
            continue
        image = photo.image
        row = avatars.insert_reference(conn, avatar_id=avatar_id, storage_key=photo.storage_key, sha256=image.sha256,
                                       width=image.width, height=image.height, size_bytes=image.size_bytes,
                                       content_type=image.content_type, source=source,
                                       telegram_file_unique_id=photo.telegram_file_unique_id)
        if row is None:
            result.duplicates.append(position)
        else:
            result.added.append((position, row["id"]))
            result.total += 1
    if all_or_nothing and result.total > MAX_REFERENCES:
        raise Refused("TOO_MANY_REFERENCES",
                      f"an avatar holds at most {MAX_REFERENCES} reference photos ({before} already)")
    return result


def known_hashes(conn: Connection, *, avatar_id: int, user_id: int) -> set[str]:
    """The SHA-256 of every reference the user's avatar has (an upload's duplicates are told apart before any
    storage work); Refused NOT_FOUND when the avatar is not the user's."""
    if avatars.get_avatar(conn, id=avatar_id, user_id=user_id) is None:
        raise Refused("NOT_FOUND", "avatar not found")
    return {r["sha256"] for r in avatars.references_of_avatar(conn, avatar_id=avatar_id)}
