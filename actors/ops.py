"""Periodic safety nets, sent by the scheduler: sweep stuck work (I4), reconcile payments with T-Bank,
clean the dedup and outbox tables, erase personal data past its retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dramatiq

import runtime
from db import bot, generation, jobs, messages, outbox, payments
from gateways.tbank import TBankError
from rules.states import TBANK_TO_PAYMENT
from runtime.unit import transaction
from telemetry.logs import log
from usecases import privacy

logger = logging.getLogger("actors.ops")


@dramatiq.actor(queue_name="ops", max_retries=0)
def sweep_stuck() -> None:
    """Re-send the next message of work that went quiet, and end jobs that ran past their deadline."""
    settings = runtime.current().settings
    idle = settings.sweep_idle_s
    with transaction() as conn:
        # Pending: a token was lost (dead-lettered, or Redis came back empty). Under a provider backlog every task looks
        # idle, so only long-idle ones are re-tokened (each at most once per 3 idle periods, as the re-token
        # touches it); a spare token finds nothing pending and spends no slot.
        for task in jobs.stuck_tasks(conn, statuses=["pending"], idle_s=idle * 3):
            jobs.touch_task(conn, id=task["id"], status="pending")
            outbox.send(conn, "create_kie_task", task["job_id"])
        # Submitting: a worker died between recording the intent and the result. The provider may have made
        # a task we never heard of (the measured orphan window); the slot is tried again.
        for task in jobs.stuck_tasks(conn, statuses=["submitting"], idle_s=idle * 2):
            if jobs.move_task(conn, id=task["id"], seen="submitting", new="pending") is not None:
                outbox.send(conn, "create_kie_task", task["job_id"])
                log(logger, "task_orphan_risk", task_id=task["id"], job_id=task["job_id"])
        for task in jobs.stuck_tasks(conn, statuses=["submitted"], idle_s=idle + 30):
            outbox.send(conn, "poll_task", task["id"], task["poll_count"])
        for task in jobs.stuck_tasks(conn, statuses=["succeeded"], idle_s=idle):
            outbox.send(conn, "store_photo", task["id"])
        for job in jobs.stale_jobs(conn, statuses=["delivering"], idle_s=idle * 3):
            jobs.touch_job(conn, id=job["id"])
            outbox.send(conn, "deliver_album", job["id"])
        for payment_id in payments.confirmed_unconsumed(conn, idle_s=idle):
            outbox.send(conn, "consume_payment", payment_id)
    _end_overdue_jobs(settings.job_deadline_s)


def _end_overdue_jobs(deadline_s: float) -> None:
    with transaction() as conn:
        for job in jobs.overdue_jobs(conn, deadline_s=deadline_s):
            for task in jobs.live_tasks_of_job(conn, job_id=job["id"]):
                generation.give_up_task(conn, task=task, reason=f"job passed its {int(deadline_s)} s deadline")
            messages.raise_alert(conn, kind="job_overdue", severity="warning",
                                 message=f"job {job['id']} passed its deadline; delivering what exists",
                                 details={"job_id": job["id"]}, dedup_key=f"job_overdue:{job['id']}")


@dramatiq.actor(queue_name="ops", max_retries=0)
def reconcile_payments() -> None:
    """Payments T-Bank never told us about: ask GetState; expire the ones past their link's life."""
    services = runtime.current()
    with services.pool.connection() as conn:
        payments.expire_unsent(conn)
        open_payments = payments.list_open(conn, idle_s=60)
    for payment in open_payments:
        try:
            state = services.tbank.get_state(payment["provider_payment_id"])
        except TBankError as err:
            log(logger, "reconcile_failed", level=logging.WARNING, payment_id=payment["id"], code=err.code)
            continue
        new_status = TBANK_TO_PAYMENT.get(state.status)
        with transaction() as conn:
            if new_status is not None and state.amount == payment["amount_kopecks"]:
                generation.apply_payment_status(conn, payment=payment, new_status=new_status)
            elif state.status in ("NEW", "FORM_SHOWED") and _expired(conn, payment["id"]):
                # only a payment nobody is paying: one in 3-DS or authorizing may still complete
                payments.move_status(conn, id=payment["id"], new="expired")


def _expired(conn: object, payment_id: int) -> bool:
    row = payments.get(conn, id=payment_id)
    return row is not None and row["expired_now"]


@dramatiq.actor(queue_name="ops", max_retries=0)
def clean_up() -> None:
    """Forget dedup rows and published outbox rows old enough that no redelivery can still arrive."""
    with transaction() as conn:
        removed = messages.purge_processed(conn, older_than_s=7 * 24 * 3600)
        purged = outbox.purge_published(conn, older_than_s=24 * 3600)
        updates = bot.purge_old(conn, older_than_s=3 * 24 * 3600)
    log(logger, "clean_up", processed_removed=removed, outbox_removed=purged, bot_rows_removed=updates)


@dramatiq.actor(queue_name="ops", max_retries=0)
def expire_personal_data() -> None:
    """Erase selfies and portraits whose retention has ended (``usecases.privacy.expire_personal_data``); what
    a storage failure leaves is taken by the next run."""
    services = runtime.current()
    privacy.expire_personal_data(services.pool, services.storage, services.settings, now=datetime.now(UTC))
