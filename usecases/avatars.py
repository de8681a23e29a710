"""Avatars: created as the user's draft (the avatar photos sent to the bot are added to), listed, read with
their references, one selfie taken out, or erased with everything generated from it. Taking a selfie out and
erasing are refused (AVATAR_BUSY) while a generation from the avatar is paid for or running: its provider tasks
are made from the avatar's references."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from db import avatars, jobs, payments, users
from gateways.storage import Storage
from rules.states import JOB_TERMINAL
from usecases import privacy
from usecases.errors import Refused

if TYPE_CHECKING:
    from psycopg import Connection

BUSY = "a generation from this avatar is paid for or still running; try when it ends"


def create_avatar(conn: Connection, *, user_id: int, name: str) -> dict[str, Any]:
    """A new avatar, which becomes the user's draft."""
    avatar = avatars.insert_avatar(conn, user_id=user_id, name=name)
    users.set_draft_avatar(conn, id=user_id, avatar_id=avatar["id"])
    return avatar


def avatars_of_user(conn: Connection, *, user_id: int) -> list[dict[str, Any]]:
    """The user's avatars, each with its reference count and ``cover_key``."""
    return avatars.list_avatars(conn, user_id=user_id)


def avatar_of_user(conn: Connection, *, user_id: int, avatar_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The user's avatar and its references; Refused NOT_FOUND."""
    avatar = avatars.get_avatar(conn, id=avatar_id, user_id=user_id)
    if avatar is None:
        raise Refused("NOT_FOUND", "avatar not found")
    return avatar, avatars.references_of_avatar(conn, avatar_id=avatar_id)


def _jobs_unless_busy(conn: Connection, avatar_id: int) -> list[dict[str, Any]]:
    made = jobs.jobs_of_avatar(conn, avatar_id=avatar_id)
    running = any(job["status"] not in JOB_TERMINAL for job in made)
    if running or payments.paid_unstarted_payments(conn, avatar_id=avatar_id):
        raise Refused("AVATAR_BUSY", BUSY)
    return made


def remove_reference(conn: Connection, storage: Storage, *, user_id: int, avatar_id: int,
                     reference_id: int) -> dict[str, Any]:
    """Take one selfie out of the user's avatar, its object out of storage (inside the caller's transaction: if
    storage fails, the row comes back and the person can try again); the avatar afterwards. Refused NOT_FOUND
    (avatar or reference) or AVATAR_BUSY."""
    if avatars.get_avatar(conn, id=avatar_id, user_id=user_id, lock=True) is None:
        raise Refused("NOT_FOUND", "avatar not found")
    _jobs_unless_busy(conn, avatar_id)
    removed = avatars.delete_reference(conn, id=reference_id, avatar_id=avatar_id)
    if removed is None:
        raise Refused("NOT_FOUND", "reference not found")
    storage.delete(removed["storage_key"])
    avatar = avatars.get_avatar(conn, id=avatar_id, user_id=user_id)
    if avatar is None:  # erased meanwhile by the person's other device
        raise Refused("NOT_FOUND", "avatar not found")
    return avatar


@dataclass(frozen=True)
class Erased:
    references: int
    photos: int
    jobs: int


def erase_avatar(conn: Connection, storage: Storage, *, user: dict[str, Any], avatar_id: int) -> Erased:
    """Erase the user's avatar: its reference photos and every photo generated from it leave storage, their rows
    are deleted (references) or marked deleted (photos, which account for payments), shares are revoked.

    Objects are deleted while the avatar's row is locked and before the rows change, so a failure leaves the
    avatar in place for a retry rather than rows pointing at nothing or objects nobody can find again.
    Refused NOT_FOUND or AVATAR_BUSY."""
    user_id = user["id"]
    if avatars.get_avatar(conn, id=avatar_id, user_id=user_id, lock=True) is None:
        raise Refused("NOT_FOUND", "avatar not found")
    job_ids = [job["id"] for job in _jobs_unless_busy(conn, avatar_id)]
    references, erased_photos = privacy.erase_files(conn, storage, avatar_ids=[avatar_id], job_ids=job_ids)
    avatars.soft_delete_avatar(conn, id=avatar_id, user_id=user_id)
    if user.get("draft_avatar_id") == avatar_id:
        users.set_draft_avatar(conn, id=user_id, avatar_id=None)
    return Erased(references=references, photos=erased_photos, jobs=len(job_ids))
