"""Portraits a job produced (one row per slot) and the share links that show a job's photos to others
(only the SHA-256 of a token is stored)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import execute, fetch_all, fetch_one, fetch_row

Row = dict[str, Any]


def insert_share(conn: Connection, *, job_id: int, user_id: int, token_hash: str, ttl_s: int) -> Row:
    """A share of the job that lives ``ttl_s`` seconds; the caller keeps the token, we keep its hash."""
    return fetch_row(conn, "photos.insert_share",
                {"job_id": job_id, "user_id": user_id, "token_hash": token_hash, "ttl_s": ttl_s})


def get_live_share(conn: Connection, *, token_hash: str) -> Row | None:
    """The share with this token hash if it is neither expired nor revoked (with ``owner_id``), else None."""
    return fetch_one(conn, "photos.get_live_share", {"token_hash": token_hash})


def revoke_shares_of_job(conn: Connection, *, job_id: int, user_id: int) -> int:
    """Revoke every live share of the user's job; returns how many there were."""
    return len(fetch_all(conn, "photos.revoke_shares_of_job", {"job_id": job_id, "user_id": user_id}))


def erase_photos_of_jobs(conn: Connection, *, job_ids: list[int]) -> list[str]:
    """Mark the jobs' photos deleted and revoke their shares; returns the photos' storage keys."""
    if not job_ids:
        return []
    execute(conn, "photos.revoke_shares_of_jobs", {"job_ids": job_ids})
    return [row["storage_key"] for row in fetch_all(conn, "photos.erase_photos_of_jobs", {"job_ids": job_ids})]


def insert_photo(conn: Connection, *, job_id: int, prompt_index: int, task_id: int, storage_key: str, sha256: str,
                 width: int, height: int, size_bytes: int, content_type: str) -> Row | None:
    """The new photo row, or None when this prompt slot of the job already has its photo."""
    return fetch_one(conn, "photos.insert_photo", {
        "job_id": job_id, "prompt_index": prompt_index, "task_id": task_id, "storage_key": storage_key,
        "sha256": sha256, "width": width, "height": height, "size_bytes": size_bytes, "content_type": content_type})


def photos_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "photos.photos_of_job", {"job_id": job_id})


def get_photo(conn: Connection, *, id: int) -> Row | None:
    return fetch_one(conn, "photos.get_photo", {"id": id})
