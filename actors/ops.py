"""Periodic safety nets, sent by the scheduler: sweep stuck work (I4), keep payments from staying stuck
(reconcile with T-Bank and Telegram Stars, alert, cancel), clean the dedup and outbox tables, erase personal
data past its retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dramatiq

import runtime
from runtime.unit import transaction
from telemetry.logs import log
from usecases import housekeeping, payment_upkeep, privacy, stars, sweeps
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
    """Payments nobody told us about: expire checkouts that never got a link; cancel at the bank and close
    those past the cancel age (first, so the rotation never closes one without its notice); ask T-Bank
    (GetState) about the least recently checked open payments, a fair rotation bounded per run; reconcile the
    Stars rail; alert on payments still not final at the alert age (usecases.payment_upkeep)."""
    services = runtime.current()
    with transaction() as conn:
        payment_status.expire_unsent(conn)
    closed = payment_upkeep.close_overdue(services)
    rotation = payment_upkeep.check_rotation(services)
    stars_applied = _reconcile_stars(services)
    alerted = payment_upkeep.alert_stuck(services)
    log(logger, "reconcile_payments", **rotation, stars_applied=stars_applied, alerted=alerted, closed=closed)


def _reconcile_stars(services: runtime.Services) -> int:
    """The Stars rail's reconciliation, guarded: whatever it raises never stops the T-Bank rotation, the
    alerts or the cancels (logged; the next run tries again)."""
    try:
        return stars.reconcile_stars(services)
    except Exception as exc:  # noqa: BLE001 — one rail's failure must not starve the other's upkeep
        log(logger, "reconcile_stars_failed", level=logging.WARNING, error=type(exc).__name__,
            message=str(exc)[:300])
        return 0


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
