"""A job's album: its photos for the owner (the ZIP, the gallery), links that share it (handed out only for an
album with photos, revoked all at once), and what a share link or a signed download link opens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import jobs, photos
from usecases.errors import Refused

if TYPE_CHECKING:
    from psycopg import Connection


def _owned_job(conn: Connection, *, user_id: int, job_id: int) -> dict[str, Any]:
    job = jobs.get_job(conn, id=job_id, user_id=user_id)
    if job is None:
        raise Refused("NOT_FOUND", "generation not found")
    return job


def album_of_user(conn: Connection, *, user_id: int, job_id: int) -> list[dict[str, Any]]:
    """The photos of the user's job; Refused NOT_FOUND when the job is not theirs."""
    _owned_job(conn, user_id=user_id, job_id=job_id)
    return photos.photos_of_job(conn, job_id=job_id)


def share_album(conn: Connection, *, user_id: int, job_id: int, token_hash: str, ttl_s: int) -> dict[str, Any]:
    """Record a share link (only its token's hash) living ``ttl_s``; Refused NOT_FOUND, or NO_PHOTOS while the
    album is empty."""
    _owned_job(conn, user_id=user_id, job_id=job_id)
    if not photos.photos_of_job(conn, job_id=job_id):
        raise Refused("NO_PHOTOS", "this generation has no photos to share yet")
    return photos.insert_share(conn, job_id=job_id, user_id=user_id, token_hash=token_hash, ttl_s=ttl_s)


def unshare_album(conn: Connection, *, user_id: int, job_id: int) -> int:
    """Revoke every share link of the user's job; how many. Refused NOT_FOUND."""
    _owned_job(conn, user_id=user_id, job_id=job_id)
    return photos.revoke_shares_of_job(conn, job_id=job_id, user_id=user_id)


def shared_album(conn: Connection, *, token_hash: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The live share link with this token's hash and its album's photos; None when revoked, expired or unknown."""
    share = photos.get_live_share(conn, token_hash=token_hash)
    if share is None:
        return None
    return share, photos.photos_of_job(conn, job_id=share["job_id"])


def album_of_job(conn: Connection, *, job_id: int) -> list[dict[str, Any]] | None:
    """The photos of a job (for a signed download link, which names no user); None when there is no such job."""
    if jobs.get_job(conn, id=job_id) is None:
        return None
    return photos.photos_of_job(conn, job_id=job_id)
