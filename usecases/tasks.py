"""Reading and claiming provider tasks for the generation actors: whether any task waits for submission, the
fairest pending task claimed (its job moved to generating, the avatar's references to send with it), a task
by id; Kie's callback turned into a poll. What a task's attempts change is ``usecases.generation``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import avatars, jobs, outbox
from telemetry.context import correlation_of

if TYPE_CHECKING:
    from psycopg import Connection


def any_pending_task(conn: Connection) -> bool:
    return jobs.any_pending_task(conn)


def claim_task(conn: Connection, *, api_key_index: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """Claim the fairest pending task across all jobs for the Kie key ``api_key_index`` (intent: 'submitting',
    recorded before the call) and move its job to generating: (the task, its avatar's references), or None
    when nothing is pending."""
    task = jobs.claim_fair_task(conn, api_key_index=api_key_index)
    if task is None:
        return None
    job = jobs.get_job(conn, id=task["job_id"])
    if job is None:  # a task's job outlives it (foreign key): never here
        raise LookupError(f"task {task['id']} has no job")
    if job["status"] == "queued":
        jobs.move_job(conn, id=job["id"], new="generating")
    return task, avatars.references_of_avatar(conn, avatar_id=job["avatar_id"])


def get_task(conn: Connection, *, task_id: int) -> dict[str, Any] | None:
    return jobs.get_task(conn, id=task_id)


def poll_task_now(conn: Connection, *, task_id: int) -> None:
    """Kie's callback for our task: queue a one-off poll (chain None, which never forks the scheduled poll chain
    and does nothing unless the task is still submitted), under its job's correlation id (the callback is
    another request, the poll continues the purchase)."""
    task = jobs.get_task(conn, id=task_id)
    job = jobs.get_job(conn, id=task["job_id"]) if task is not None else None
    with correlation_of(job["correlation_id"] if job is not None else None):
        outbox.send(conn, "poll_task", task_id, None)
