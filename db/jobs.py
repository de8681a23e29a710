"""Generation jobs and their provider tasks (one row per attempt): status moves along ``rules.states``, progress
counts, and the lists the sweeper and the gallery read."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import execute, fetch_all, fetch_one, fetch_row, fetch_together
from rules.states import JOB_MOVES, TASK_MOVES, expected_sources

Row = dict[str, Any]


def insert_job(conn: Connection, *, payment_id: int | None, user_id: int, avatar_id: int, style_id: str, tier: str,
               total_photos: int, correlation_id: str, kind: str = "purchase",
               parent_job_id: int | None = None) -> Row | None:
    """The new job, or None when the payment already has one (UNIQUE payment_id)."""
    return fetch_one(conn, "jobs.insert_job", {
        "payment_id": payment_id, "parent_job_id": parent_job_id, "kind": kind, "user_id": user_id,
        "avatar_id": avatar_id, "style_id": style_id, "tier": tier, "total_photos": total_photos,
        "correlation_id": correlation_id})


def get_job(conn: Connection, *, id: int, user_id: int | None = None) -> Row | None:
    if user_id is not None:
        return fetch_one(conn, "jobs.get_job_for_user", {"id": id, "user_id": user_id})
    return fetch_one(conn, "jobs.get_job", {"id": id})


def progress_rows(conn: Connection, *, id: int, user_id: int) -> dict[str, Any]:
    """A user's job and what its progress screen shows, read in one round trip and one snapshot
    (``fetch_together``): ``job`` (None when it is not theirs: nothing else is then to be shown), ``stages``,
    ``chunks``, ``photos`` (live), ``refunds`` and ``children``."""
    job, stages, chunks, photos, refunds, children = fetch_together(conn, [
        ("jobs.get_job_for_user", {"id": id, "user_id": user_id}),
        ("jobs.task_stages", {"job_id": id}),
        ("deliveries.delivery_counts", {"job_id": id}),
        ("photos.photos_of_job", {"job_id": id}),
        ("refunds.refunds_of_job", {"job_id": id}),
        ("jobs.children_of_job", {"job_id": id}),
    ])
    return {"job": job[0] if job else None, "stages": stages[0], "chunks": chunks[0], "photos": photos,
            "refunds": refunds, "children": children}


def get_job_by_payment(conn: Connection, *, payment_id: int) -> Row | None:
    return fetch_one(conn, "jobs.get_job_by_payment", {"payment_id": payment_id})


def move_job(conn: Connection, *, id: int, new: str) -> Row | None:
    """Move the job along its state machine; None if another worker already moved it (or the move is illegal)."""
    return fetch_one(conn, "jobs.move_job", {"id": id, "new": new, "expected": expected_sources(JOB_MOVES, new)})


def add_progress(conn: Connection, *, id: int, stored: int = 0, failed: int = 0) -> Row:
    return fetch_row(conn, "jobs.add_progress", {"id": id, "stored": stored, "failed": failed})


def use_regeneration(conn: Connection, *, id: int, allowance: int) -> Row | None:
    return fetch_one(conn, "jobs.use_regeneration", {"id": id, "allowance": allowance})


def touch_job(conn: Connection, *, id: int) -> None:
    execute(conn, "jobs.touch_job", {"id": id})


def insert_task(conn: Connection, *, job_id: int, prompt_index: int, attempt: int, prompt: str) -> Row | None:
    return fetch_one(conn, "jobs.insert_task", {"job_id": job_id, "prompt_index": prompt_index, "attempt": attempt,
                                           "prompt": prompt})


def get_task(conn: Connection, *, id: int) -> Row | None:
    return fetch_one(conn, "jobs.get_task", {"id": id})


def get_task_by_kie_id(conn: Connection, *, kie_task_id: str) -> Row | None:
    return fetch_one(conn, "jobs.get_task_by_kie_id", {"kie_task_id": kie_task_id})


def claim_fair_task(conn: Connection, *, api_key_index: int, claimed_by: str | None = None) -> Row | None:
    """Claim the fairest pending task ('submitting', a fresh ``claim_token``) for the worker process
    ``claimed_by``; None when nothing is pending (or every pending task is being claimed)."""
    return fetch_one(conn, "jobs.claim_fair_task", {"api_key_index": api_key_index, "claimed_by": claimed_by})


def move_task(conn: Connection, *, id: int, new: str, seen: str | None = None, kie_task_id: str | None = None,
              result_url: str | None = None, fail_code: str | None = None, fail_msg: str | None = None,
              claim_token: Any = None) -> Row | None:
    """Move the task along ``rules.states.TASK_MOVES`` — from ``seen`` (the status the caller read) or, without
    it, from any legal source; with ``claim_token``, only while the task is still that claim. None if another
    worker already moved it (or claimed it again)."""
    return fetch_one(conn, "jobs.move_task", {
        "id": id, "expected": expected_sources(TASK_MOVES, new, seen), "new": new, "kie_task_id": kie_task_id,
        "result_url": result_url, "claim_token": claim_token,
        "fail_code": fail_code, "fail_msg": (fail_msg or None) and fail_msg[:500]})


def touch_task(conn: Connection, *, id: int, status: str) -> Row | None:
    """Mark the task as looked at now without changing its status (the sweeper re-tokening an idle task);
    None when it is no longer in ``status``."""
    return fetch_one(conn, "jobs.touch_task", {"id": id, "status": status})


def bump_poll(conn: Connection, *, id: int, expected: int) -> Row | None:
    return fetch_one(conn, "jobs.bump_poll", {"id": id, "expected": expected})


def recent_task_seconds(conn: Connection) -> Row:
    return fetch_row(conn, "jobs.recent_task_seconds", {})


def tasks_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "jobs.tasks_of_job", {"job_id": job_id})


def stuck_tasks(conn: Connection, *, statuses: list[str], idle_s: float, limit: int = 200) -> list[Row]:
    return fetch_all(conn, "jobs.stuck_tasks", {"statuses": statuses, "idle_s": idle_s, "limit": limit})


def stale_jobs(conn: Connection, *, statuses: list[str], idle_s: float, limit: int = 100) -> list[Row]:
    return fetch_all(conn, "jobs.stale_jobs", {"statuses": statuses, "idle_s": idle_s, "limit": limit})


def overdue_jobs(conn: Connection, *, deadline_s: float, limit: int = 50) -> list[Row]:
    return fetch_all(conn, "jobs.overdue_jobs", {"deadline_s": deadline_s, "limit": limit})


def live_tasks_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    return fetch_all(conn, "jobs.live_tasks_of_job", {"job_id": job_id})


def any_pending_task(conn: Connection) -> bool:
    return bool(fetch_row(conn, "jobs.any_pending_task")["found"])


def task_stages(conn: Connection, *, job_id: int) -> Row:
    """Photo slots of the job by the state of their latest attempt: queued, submitted, generating, stored,
    failed."""
    return fetch_row(conn, "jobs.task_stages", {"job_id": job_id})


def children_of_job(conn: Connection, *, job_id: int) -> list[Row]:
    """Regeneration jobs started from this job (id, status, created_at)."""
    return fetch_all(conn, "jobs.children_of_job", {"job_id": job_id})


def jobs_of_avatar(conn: Connection, *, avatar_id: int) -> list[Row]:
    """Every job (purchases and regenerations) made from the avatar: id and status."""
    return fetch_all(conn, "jobs.jobs_of_avatar", {"avatar_id": avatar_id})


def latest_purchase_job(conn: Connection, *, user_id: int) -> Row | None:
    return fetch_one(conn, "jobs.latest_purchase_job", {"user_id": user_id})
