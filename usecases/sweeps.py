"""The safety nets the scheduler runs (I4): re-send the next message of work that went quiet, and end jobs that
ran past their deadline with what exists. A re-sent message carries its purchase's correlation id, not the
sweep's, so the purchase's trace stays one id."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import runtime
from db import jobs, outbox, payments, workers
from runtime.outages import outages
from telemetry.context import correlation_of
from telemetry.logs import log
from usecases import liveness
from usecases.alerts import raise_alert
from usecases.generation import give_up_task

if TYPE_CHECKING:
    from psycopg import Connection

logger = logging.getLogger("usecases.sweeps")
OUTAGE_ALERT_WINDOW_S = 3600  # one provider_outage alert per incident (an incident longer than this: one an hour)


def sweep_stuck(conn: Connection, *, idle_s: float) -> None:
    """Re-send the message each kind of quiet work waits for, in the caller's transaction."""
    services = runtime.current() if runtime.installed() else None
    # Pending: a token was lost (dead-lettered, or Redis came back empty). Under a provider backlog every task
    # looks idle, so only long-idle ones are re-tokened (each at most once per 3 idle periods, as the touch
    # marks it seen — not a status move); a spare token finds nothing pending and spends no slot.
    for task in jobs.stuck_tasks(conn, statuses=["pending"], idle_s=idle_s * 3):
        if jobs.touch_task(conn, id=task["id"], status="pending") is not None:
            with correlation_of(task["job_correlation_id"]):
                outbox.send(conn, "create_kie_task", task["job_id"])
    # Submitting: a worker died between recording the intent and the result. A claim whose worker process
    # stopped beating is back in seconds (usecases/liveness.py, run by the scheduler); this is the fallback
    # for a claim without a claimer, a silent one the scheduler missed, and a live claimer hung past
    # HUNG_AFTER_S. A live claimer's younger claim is not touched: its call may still be answered, and a second
    # claim would make Kie create the task twice. The provider may have made a task we never heard of (the
    # measured orphan window); the slot is tried again, and only that same claim (its token) is moved, so a late
    # result of the old claim moves nothing.
    for task in workers.stuck_claims(conn, idle_s=idle_s * 2, silent_s=liveness.SILENT_AFTER_S,
                                     hung_s=liveness.HUNG_AFTER_S):
        if jobs.move_task(conn, id=task["id"], seen="submitting", new="pending",
                          claim_token=task["claim_token"]) is not None:
            with correlation_of(task["job_correlation_id"]):
                outbox.send(conn, "create_kie_task", task["job_id"])
                log(logger, "task_orphan_risk", task_id=task["id"], job_id=task["job_id"])
    # Submitted / succeeded: the poll chain or the store was lost. While the provider they wait on is down
    # (runtime/outages.py) their messages are alive and waiting, so nothing is re-sent, and one alert per
    # incident says so; otherwise each is re-sent at most once per idle period (the touch marks it seen).
    down = set(outages(services.redis, services.settings.broker_namespace)) if services is not None else set()
    for provider in sorted(down):
        raise_alert(conn, kind="provider_outage", severity="critical", group=f"provider_outage:{provider}",
                    window_s=OUTAGE_ALERT_WINDOW_S,
                    message=f"{provider} is down: work waits for it (nothing fails, nothing is re-sent)")
    if "kie" not in down:
        for task in jobs.stuck_tasks(conn, statuses=["submitted"], idle_s=idle_s + 30):
            if jobs.touch_task(conn, id=task["id"], status="submitted") is not None:
                with correlation_of(task["job_correlation_id"]):
                    outbox.send(conn, "poll_task", task["id"], task["poll_count"])
    if not down & {"storage", "files"}:
        for task in jobs.stuck_tasks(conn, statuses=["succeeded"], idle_s=idle_s):
            if jobs.touch_task(conn, id=task["id"], status="succeeded") is not None:
                with correlation_of(task["job_correlation_id"]):
                    outbox.send(conn, "store_photo", task["id"])
    for job in jobs.stale_jobs(conn, statuses=["delivering"], idle_s=idle_s * 3):
        jobs.touch_job(conn, id=job["id"])
        with correlation_of(job["correlation_id"]):
            outbox.send(conn, "deliver_album", job["id"])
    for payment in payments.confirmed_unconsumed(conn, idle_s=idle_s):
        with correlation_of(payment["correlation_id"]):
            outbox.send(conn, "consume_payment", payment["id"])


def end_overdue_jobs(conn: Connection, *, deadline_s: float) -> None:
    """Give up the live tasks of jobs past their deadline (the job then delivers what exists) and alert once."""
    for job in jobs.overdue_jobs(conn, deadline_s=deadline_s):
        for task in jobs.live_tasks_of_job(conn, job_id=job["id"]):
            give_up_task(conn, task=task, reason=f"job passed its {int(deadline_s)} s deadline")
        raise_alert(conn, kind="job_overdue", severity="warning",
                    message=f"job {job['id']} passed its deadline; delivering what exists",
                    details={"job_id": job["id"]}, dedup_key=f"job_overdue:{job['id']}")
