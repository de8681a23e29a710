"""The safety nets the scheduler runs (I4): re-send the next message of work that went quiet, and end jobs that
ran past their deadline with what exists."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from db import jobs, outbox, payments
from telemetry.logs import log
from usecases.alerts import raise_alert
from usecases.generation import give_up_task

if TYPE_CHECKING:
    from psycopg import Connection

logger = logging.getLogger("usecases.sweeps")


def sweep_stuck(conn: Connection, *, idle_s: float) -> None:
    """Re-send the message each kind of quiet work waits for, in the caller's transaction."""
    # Pending: a token was lost (dead-lettered, or Redis came back empty). Under a provider backlog every task
    # looks idle, so only long-idle ones are re-tokened (each at most once per 3 idle periods, as the touch
    # marks it seen — not a status move); a spare token finds nothing pending and spends no slot.
    for task in jobs.stuck_tasks(conn, statuses=["pending"], idle_s=idle_s * 3):
        if jobs.touch_task(conn, id=task["id"], status="pending") is not None:
            outbox.send(conn, "create_kie_task", task["job_id"])
    # Submitting: a worker died between recording the intent and the result. The provider may have made
    # a task we never heard of (the measured orphan window); the slot is tried again.
    for task in jobs.stuck_tasks(conn, statuses=["submitting"], idle_s=idle_s * 2):
        if jobs.move_task(conn, id=task["id"], seen="submitting", new="pending") is not None:
            outbox.send(conn, "create_kie_task", task["job_id"])
            log(logger, "task_orphan_risk", task_id=task["id"], job_id=task["job_id"])
    for task in jobs.stuck_tasks(conn, statuses=["submitted"], idle_s=idle_s + 30):
        outbox.send(conn, "poll_task", task["id"], task["poll_count"])
    for task in jobs.stuck_tasks(conn, statuses=["succeeded"], idle_s=idle_s):
        outbox.send(conn, "store_photo", task["id"])
    for job in jobs.stale_jobs(conn, statuses=["delivering"], idle_s=idle_s * 3):
        jobs.touch_job(conn, id=job["id"])
        outbox.send(conn, "deliver_album", job["id"])
    for payment_id in payments.confirmed_unconsumed(conn, idle_s=idle_s):
        outbox.send(conn, "consume_payment", payment_id)


def end_overdue_jobs(conn: Connection, *, deadline_s: float) -> None:
    """Give up the live tasks of jobs past their deadline (the job then delivers what exists) and alert once."""
    for job in jobs.overdue_jobs(conn, deadline_s=deadline_s):
        for task in jobs.live_tasks_of_job(conn, job_id=job["id"]):
            give_up_task(conn, task=task, reason=f"job passed its {int(deadline_s)} s deadline")
        raise_alert(conn, kind="job_overdue", severity="warning",
                    message=f"job {job['id']} passed its deadline; delivering what exists",
                    details={"job_id": job["id"]}, dedup_key=f"job_overdue:{job['id']}")
