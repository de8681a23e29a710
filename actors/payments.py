"""consume_payment: a confirmed payment becomes exactly one generation job (I1); refund_job: money back for
photos that could not be made (I7); refund_stray_charge: a Stars charge its payment could not take (an invoice
paid twice, or after the order was closed) given back at once."""

from __future__ import annotations

import logging

import dramatiq

import runtime
from runtime.unit import effect_once
from telemetry.context import correlation_id
from telemetry.logs import log
from usecases import generation, refunds, stars
from usecases.errors import Refused

logger = logging.getLogger("actors.payments")


@dramatiq.actor(queue_name="payments", max_retries=10, min_backoff=500, max_backoff=30_000)
def consume_payment(payment_id: int) -> None:
    settings = runtime.current().settings
    with effect_once("consume_payment") as conn:
        if conn is None:
            return
        try:
            job = generation.start_job(conn, payment_id=payment_id, referral_percent=settings.referral_percent,
                                       correlation_id=correlation_id())
        except Refused as refused:
            # Already consumed (the user's own "generate" won the race) or not confirmed: nothing to do.
            log(logger, "consume_skipped", payment_id=payment_id, code=refused.code)
            return
    log(logger, "job_started", payment_id=payment_id, job_id=job["id"], photos=job["total_photos"])


@dramatiq.actor(queue_name="payments", max_retries=10, min_backoff=1000, max_backoff=60_000)
def refund_job(job_id: int) -> None:
    """Refund what a finished or unstartable job owes (``usecases.refunds.refund_job``). Sent for a job that
    could not start, and by operators (`python -m workers.replay refund JOB`) to retry a refund the bank
    refused."""
    refunds.refund_job(runtime.current(), job_id=job_id)


@dramatiq.actor(queue_name="payments", max_retries=10, min_backoff=1000, max_backoff=60_000)
def refund_stray_charge(payment_id: int, payer_id: int, charge_id: str) -> None:
    services = runtime.current()
    stars.refund_stray_charge(services, payment_id=payment_id, payer_id=payer_id, charge_id=charge_id)
    with effect_once("refund_stray_charge") as conn:
        if conn is not None:
            stars.tell_stray_charge_returned(conn, payment_id=payment_id, payer_id=payer_id)
