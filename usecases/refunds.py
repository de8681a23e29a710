"""Prorated refunds through T-Bank Cancel, keyed by an ExternalRequestId derived from the job, so the same
refund is never paid twice (I7) — not by us (UNIQUE key, conditional finish) and not by the bank (its key).

With 54-FZ receipts on, each Cancel carries the Receipt of the refunded part (``usecases.payments``); the
transaction that books a refund also reverses the inviter's share of it (``usecases.users``). A Stars
payment's job is settled by the Stars rail (``usecases.stars.settle_stars_refund``): Telegram refunds whole
charges only, so it has its own policy."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from db import jobs, outbox, payments, refunds, users
from gateways.tbank import TBankError
from rules.money import prorated_refund
from runtime import Services
from runtime.outcomes import Permanent
from telemetry import metrics
from telemetry.logs import log
from usecases.alerts import raise_alert
from usecases.payments import refund_receipt
from usecases.sending import send_refund_notice
from usecases.stars import STARS_FULL_REFUND, settle_stars_refund
from usecases.users import reverse_for_refund

if TYPE_CHECKING:
    from psycopg import Connection

logger = logging.getLogger("usecases.refunds")


def settle_refund(services: Services, job: dict[str, Any], *, retry_refused: bool = False) -> dict[str, Any] | None:
    """Refund the photos ``job`` could not make (all of them when it failed to start); None when it owes none.
    A Stars payment's job is settled by the Stars rail instead (its result is returned).

    A refund the bank refused stays refused (and alerted) unless ``retry_refused`` — an operator's retry."""
    if job["payment_id"] is None:
        return None
    missing = job["total_photos"] - job["photos_stored"] if job["status"] == "failed" else job["photos_failed"]
    if missing <= 0:
        return None
    with services.pool.connection() as conn, conn.transaction():
        payment = payments.get_existing(conn, id=job["payment_id"])
        if payment["rail"] == "stars":  # Telegram refunds whole charges only: the Stars rail has its own policy
            refund = None
        else:
            amount = prorated_refund(payment["amount_kopecks"], job["total_photos"], missing,
                                     already_refunded=payment["refunded_kopecks"])
            key = f"pinglass-job-{job['id']}-missing"
            if amount <= 0:  # already refunded in full (e.g. by an operator): nothing is owed, but a row may exist
                return refunds.get_refund_by_key(conn, external_request_id=key)
            refund = refunds.insert_refund(conn, payment_id=payment["id"], job_id=job["id"], amount_kopecks=amount,
                                           photos_refunded=missing, reason="missing_photos",
                                           external_request_id=key)
    if refund is None:
        return settle_stars_refund(services, job, payment, retry_refused=retry_refused)
    return _refund_at_bank(services, job, payment, refund, missing, retry_refused=retry_refused)


def _refund_at_bank(services: Services, job: dict[str, Any], payment: dict[str, Any], refund: dict[str, Any],
                    missing: int, *, retry_refused: bool) -> dict[str, Any]:
    """Cancel the refund's amount at T-Bank (with its Receipt when receipts are on) and book it; a refused Cancel
    fails the refund, alerts and raises Permanent; a retryable failure propagates."""
    if refund["status"] == "failed" and retry_refused:
        with services.pool.connection() as conn:
            refund = refunds.reopen_refund(conn, id=refund["id"]) or refund
    if refund["status"] != "pending":
        return refund
    try:
        result = services.tbank.cancel(
            payment["provider_payment_id"], amount=refund["amount_kopecks"],
            external_request_id=refund["external_request_id"],
            receipt=refund_receipt(services.settings, payment, amount_kopecks=refund["amount_kopecks"],
                                   photos=refund["photos_refunded"]))
    except TBankError as err:
        if err.retryable:
            raise
        with services.pool.connection() as conn, conn.transaction():
            refunds.finish_refund(conn, id=refund["id"], status="failed", provider_status=None,
                                   error=err.message[:300])
            raise_alert(conn, kind="refund_failed", severity="critical",
                        message=f"refund of job {job['id']} refused by T-Bank: {err.message[:200]}",
                                 details={"job_id": job["id"], "refund_id": refund["id"]},
                                 dedup_key=f"refund_failed:{refund['id']}")
        raise Permanent(f"refund refused: {err.message}") from err
    with services.pool.connection() as conn, conn.transaction():
        finished = refunds.finish_refund(conn, id=refund["id"], status="succeeded", provider_status=result.status)
        if finished is not None:
            payments.add_refunded(conn, id=payment["id"], amount=refund["amount_kopecks"])
            reverse_for_refund(conn, refund=finished, percent=services.settings.referral_percent)
            metrics.REFUNDS.labels("full" if missing == job["total_photos"] else "partial").inc()
            raise_alert(conn, kind="refund", severity="info",
                        message=f"refunded {refund['amount_kopecks'] / 100:.2f} ₽ for job {job['id']}: {missing} of "
                                f"{job['total_photos']} photos not made",
                        details={"job_id": job["id"], "refund_id": refund["id"], "rail": "card"})
    log(logger, "refund_done", job_id=job["id"], amount=refund["amount_kopecks"], photos=missing)
    return finished or refund


def refund_job(services: Services, *, job_id: int) -> dict[str, Any] | None:
    """Refund what a finished or unstartable job owes and tell the user (idempotent: one refund per job, keyed
    at T-Bank). An operator's retry reopens a refund the bank refused."""
    with services.pool.connection() as conn:
        job = jobs.get_job(conn, id=job_id)
        user = users.get_user(conn, id=job["user_id"]) if job is not None else None
    if job is None:
        return None
    return settle_and_tell(services, job, user, retry_refused=True)


def settle_and_tell(services: Services, job: dict[str, Any], user: dict[str, Any] | None, *,
                    retry_refused: bool = False) -> dict[str, Any] | None:
    """``settle_refund``, then tell ``user`` of a card refund in rubles (the job's notice chunk, once); a whole
    Stars refund was told by the Stars rail, in Stars. A person erased meanwhile (privacy, ``user`` None) is
    refunded but cannot be told."""
    refund = settle_refund(services, job, retry_refused=retry_refused)
    if (refund is not None and refund["status"] == "succeeded" and refund["reason"] != STARS_FULL_REFUND
            and user is not None):
        send_refund_notice(services, job=job, user=user, refund=refund)
    return refund


def queue_refund(conn: Connection, *, job_id: int) -> str:
    """Queue ``refund_job`` for the job (an operator retrying a refund); returns the message id."""
    return outbox.send(conn, "refund_job", job_id)
