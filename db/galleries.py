"""What a user sees of their jobs: progress by stage, shared galleries (token hashes only) and the erasure of
an avatar's generated photos."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.errors import translated
from db.queries import fetch_all, fetch_one, sql

Row = dict[str, Any]



def insert_share(conn: Connection, *, job_id: int, user_id: int, token_hash: str, ttl_s: int) -> Row:
    """A share of the job that lives ``ttl_s`` seconds; the caller keeps the token, we keep its hash."""
    return fetch_one(conn, "galleries.insert_share",
                {"job_id": job_id, "user_id": user_id, "token_hash": token_hash, "ttl_s": ttl_s})


def get_live_share(conn: Connection, *, token_hash: str) -> Row | None:
    """The share with this token hash if it is neither expired nor revoked (with ``owner_id``), else None."""
    return fetch_one(conn, "galleries.get_live_share", {"token_hash": token_hash})


def revoke_shares_of_job(conn: Connection, *, job_id: int, user_id: int) -> int:
    """Revoke every live share of the user's job; returns how many there were."""
    return len(fetch_all(conn, "galleries.revoke_shares_of_job", {"job_id": job_id, "user_id": user_id}))


def task_stages(conn: Connection, *, job_id: int) -> Row:
    """Photo slots of the job by the state of their latest attempt: queued, submitted, generating, stored,
    failed."""
    return fetch_one(conn, "galleries.task_stages", {"job_id": job_id})


def delivery_counts(conn: Connection, *, job_id: int) -> Row:
    """Delivery chunks of the job: ``sent`` and ``total``."""
    return fetch_one(conn, "galleries.delivery_counts", {"job_id": job_id})


def children_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    """Regeneration jobs started from this job (id, status, created_at)."""
    return fetch_all(conn, "galleries.children_of_job", {"job_id": job_id})


def jobs_of_avatar(conn: Connection, *, avatar_id: int) -> list[Row]:
    """Every job (purchases and regenerations) made from the avatar: id and status."""
    return fetch_all(conn, "galleries.jobs_of_avatar", {"avatar_id": avatar_id})


def paid_unstarted_payments(conn: Connection, *, avatar_id: int) -> int:
    """Payments for this avatar that are authorized or confirmed but have not started their job yet."""
    return fetch_one(conn, "galleries.paid_unstarted_payments_of_avatar", {"avatar_id": avatar_id})["n"]


def erase_photos_of_jobs(conn: Connection, *, job_ids: list[int]) -> list[str]:
    """Mark the jobs' photos deleted and revoke their shares; returns the photos' storage keys."""
    if not job_ids:
        return []
    with translated():
        conn.execute(sql("galleries.revoke_shares_of_jobs"), {"job_ids": job_ids})
    return [row["storage_key"] for row in fetch_all(conn, "galleries.erase_photos_of_jobs", {"job_ids": job_ids})]
