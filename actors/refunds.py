"""Prorated refunds through T-Bank Cancel, keyed by an ExternalRequestId derived from the job, so the same
refund is never paid twice (I7) — not by us (UNIQUE key, conditional finish) and not by the bank (its key)."""

from __future__ import annotations

import logging
from typing import Any

from db import delivery, messages, payments
from gateways.tbank import TBankError
from rules.money import prorated_refund
from runtime import Services
from runtime.outcomes import Permanent
from telemetry import metrics
from telemetry.logs import log

logger = logging.getLogger("actors.refunds")


def settle_refund(services: Services, job: dict[str, Any], *, retry_refused: bool = False) -> dict[str, Any] | None:
    """Refund the photos ``job`` could not make (all of them when it failed to start); None when it owes none.

    A refund the bank refused stays refused (and alerted) unless ``retry_refused`` — an operator's retry."""
    if job["payment_id"] is None:
        return None
    missing = job["total_photos"] - job["photos_stored"] if job["status"] == "failed" else job["photos_failed"]
    if missing <= 0:
        return None
    with services.pool.connection() as conn, conn.transaction():
        payment = payments.get(conn, id=job["payment_id"])
        amount = prorated_refund(payment["amount_kopecks"], job["total_photos"], missing,
                                 already_refunded=payment["refunded_kopecks"])
        key = f"pinglass-job-{job['id']}-missing"
        if amount <= 0:  # already refunded in full (e.g. by an operator): nothing is owed, but a row may exist
            return delivery.get_refund_by_key(conn, external_request_id=key)
        refund = delivery.insert_refund(conn, payment_id=payment["id"], job_id=job["id"], amount_kopecks=amount,
                                        photos_refunded=missing, reason="missing_photos",
                                        external_request_id=key)
    if refund["status"] == "failed" and retry_refused:
        with services.pool.connection() as conn:
            refund = delivery.reopen_refund(conn, id=refund["id"]) or refund
    if refund["status"] != "pending":
        return refund
    try:
        result = services.tbank.cancel(payment["provider_payment_id"], amount=refund["amount_kopecks"],
                                       external_request_id=refund["external_request_id"])
    except TBankError as err:
        if err.retryable:
            raise
        with services.pool.connection() as conn, conn.transaction():
            delivery.finish_refund(conn, id=refund["id"], status="failed", provider_status=None,
                                   error=err.message[:300])
            messages.raise_alert(conn, kind="refund_failed", severity="critical",
                                 message=f"refund of job {job['id']} refused by T-Bank: {err.message[:200]}",
                                 details={"job_id": job["id"], "refund_id": refund["id"]},
                                 dedup_key=f"refund_failed:{refund['id']}")
        raise Permanent(f"refund refused: {err.message}") from err
    with services.pool.connection() as conn, conn.transaction():
        finished = delivery.finish_refund(conn, id=refund["id"], status="succeeded", provider_status=result.status)
        if finished is not None:
            payments.add_refunded(conn, id=payment["id"], amount=refund["amount_kopecks"])
            metrics.REFUNDS.labels("full" if missing == job["total_photos"] else "partial").inc()
    log(logger, "refund_done", job_id=job["id"], amount=refund["amount_kopecks"], photos=missing)
    return finished or refund
