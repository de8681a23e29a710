"""Periodic safety nets, sent by the scheduler: sweep stuck work (I4), reconcile payments with T-Bank,
clean the dedup and outbox tables, erase personal data past its retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dramatiq

import runtime
from gateways.tbank import TBankError
from runtime.unit import transaction
from telemetry.logs import log
from usecases import housekeeping, privacy, sweeps
from usecases import payments as payment_status

logger = logging.getLogger("actors.ops")


@dramatiq.actor(queue_name="ops", max_retries=0)
def sweep_stuck() -> None:
    """Re-send the next message of work that went quiet, and end jobs that ran past their deadline."""
    settings = runtime.current().settings
    with transaction() as conn:
        sweeps.sweep_stuck(conn, idle_s=settings.sweep_idle_s)
    with transaction() as conn:
        sweeps.end_overdue_jobs(conn, deadline_s=settings.job_deadline_s)


@dramatiq.actor(queue_name="ops", max_retries=0)
def reconcile_payments() -> None:
    """Payments T-Bank never told us about: ask GetState; expire the ones past their link's life."""
    services = runtime.current()
    with services.pool.connection() as conn:
        payment_status.expire_unsent(conn)
        open_payments = payment_status.open_payments(conn, idle_s=60)
    for payment in open_payments:
        try:
            state = services.tbank.get_state(payment["provider_payment_id"])
        except TBankError as err:
            log(logger, "reconcile_failed", level=logging.WARNING, payment_id=payment["id"], code=err.code)
            continue
        with transaction() as conn:
            payment_status.reconcile(conn, payment=payment, bank_status=state.status, bank_amount=state.amount)


@dramatiq.actor(queue_name="ops", max_retries=0)
def clean_up() -> None:
    """Forget dedup rows and published outbox rows old enough that no redelivery can still arrive."""
    with transaction() as conn:
        removed = housekeeping.clean_up(conn)
    log(logger, "clean_up", **removed)


@dramatiq.actor(queue_name="ops", max_retries=0)
def expire_personal_data() -> None:
    """Erase selfies and portraits whose retention has ended (``usecases.privacy.expire_personal_data``); what
    a storage failure leaves is taken by the next run."""
    services = runtime.current()
    privacy.expire_personal_data(services.pool, services.storage, services.settings, now=datetime.now(UTC))
