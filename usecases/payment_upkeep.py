"""Payments that never stay stuck (issue 9): a fair GetState rotation over every open T-Bank payment, an admin
alert for a payment still not final after ``payment_alert_after_s``, and after ``payment_cancel_after_s`` a
Cancel at the bank, the payment closed here and the payer told.

The rotation: ``reconcile_payments`` runs ``RUNS_PER_INTERVAL`` times per ``reconcile_interval_s``; each run asks
about the least recently checked open payments (``checked_at``, stamped as they are claimed, so a failed GetState
still sends the payment to the back), as many as the open ones divided by the runs per interval, or every one
whose last check is about to fall out of the bound, whichever is more — up to ``MAX_CHECKS_PER_RUN`` and
``run_budget_s``. So each open payment is asked about at least once per interval while a run can ask about all
that are due (at the fake's few milliseconds a GetState, thousands; at a real 0.3 s, about 60 per run).

The close at the cancel age: a payment the bank confirmed is applied (never cancelled); one the bank holds open
(NEW, FORM_SHOWED, AUTHORIZED) is cancelled there (a full Cancel: CANCELED, or REVERSED for a hold) and then
closed here — ``expired`` when it was ``new``, ``canceled`` when it was ``authorized`` (the states allow no
authorized → expired). One the bank already closed without money (our Cancel whose answer we lost, a deadline,
a decline) is closed here without asking the bank again. A Stars invoice has nothing to cancel at Telegram: it
is expired, and its pre-checkout is then refused. The close is a conditional move that queues the payer's
notice in the same transaction, so a second run, or a racing one, changes nothing more.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from db import payment_upkeep as upkeep
from db import payments, users
from gateways.tbank import TBankError
from rules.states import TBANK_TO_PAYMENT
from settings import Settings
from telemetry.logs import log
from usecases import payments as payment_status
from usecases.alerts import raise_alert
from usecases.sending import queue_payment_closed_notice

if TYPE_CHECKING:
    from runtime import Services

logger = logging.getLogger("usecases.payment_upkeep")

RUNS_PER_INTERVAL = 6  # reconcile_payments runs this often per reconcile_interval_s (every 30 s at 180 s)
MAX_CHECKS_PER_RUN = 2000
CLAIM_CHUNK = 20  # claimed (and stamped) at a time, so a run cut by its budget stamps few it did not ask about
ALERT_BATCH = 200
CANCEL_BATCH = 50
# What the bank says of a payment we are about to close (docs/providers.md#t-bank):
HELD_OPEN = frozenset({"NEW", "FORM_SHOWED", "AUTHORIZED"})  # cancel it there first
CLOSED_WITHOUT_MONEY = frozenset({"CANCELED", "REVERSED", "DEADLINE_EXPIRED", "REJECTED", "AUTH_FAIL"})
MONEY_TAKEN = frozenset({"CONFIRMED", "PARTIAL_REFUNDED", "REFUNDED"})  # applied, never cancelled


def run_every_s(settings: Settings) -> float:
    """How often the scheduler sends ``reconcile_payments``."""
    return settings.reconcile_interval_s / RUNS_PER_INTERVAL


def run_budget_s(settings: Settings) -> float:
    """How long one run may spend asking T-Bank: two thirds of the time to the next run."""
    return run_every_s(settings) * 2 / 3


def checks_this_run(*, open_count: int, due: int) -> int:
    """How many payments one run asks about: its share of the open ones (each run takes 1/RUNS_PER_INTERVAL
    of them, least recently checked first), or every one that is due, whichever is more; bounded."""
    share = math.ceil(open_count / RUNS_PER_INTERVAL)
    return min(MAX_CHECKS_PER_RUN, max(share, due))


def check_rotation(services: Services, *, budget_s: float | None = None) -> dict[str, int]:
    """One run of the rotation: ask T-Bank (GetState) about the least recently checked open payments and apply
    what it says (``usecases.payments.reconcile``); ``{"open", "due", "checked", "failed"}``."""
    settings = services.settings
    budget_s = run_budget_s(settings) if budget_s is None else budget_s
    deadline = time.monotonic() + budget_s
    # due: last asked more than one run's time short of the bound, so the next run would be too late
    due_after_s = max(0.0, settings.reconcile_interval_s - run_every_s(settings))
    with services.pool.connection() as conn:
        open_count, due = upkeep.rotation_counts(conn, due_after_s=due_after_s)
    wanted = checks_this_run(open_count=open_count, due=due)
    checked = failed = 0
    while checked + failed < wanted and time.monotonic() < deadline:
        with services.pool.connection() as conn:
            batch = upkeep.claim_for_check(conn, limit=min(CLAIM_CHUNK, wanted - checked - failed))
        if not batch:
            break
        for payment in batch:
            if _check_one(services, payment):
                checked += 1
            else:
                failed += 1
    counts = {"open": open_count, "due": due, "checked": checked, "failed": failed}
    if checked + failed < min(wanted, open_count):
        log(logger, "reconcile_run_cut", level=logging.WARNING, budget_s=budget_s, **counts)
    return counts


def _check_one(services: Services, payment: dict[str, Any]) -> bool:
    try:
        state = services.tbank.get_state(payment["provider_payment_id"])
    except TBankError as err:
        log(logger, "reconcile_failed", level=logging.WARNING, payment_id=payment["id"], code=err.code)
        return False
    with services.pool.connection() as conn, conn.transaction():
        payment_status.reconcile(conn, payment=payment, bank_status=state.status, bank_amount=state.amount)
    return True


def alert_stuck(services: Services) -> int:
    """One admin alert per payment still new or authorized past ``payment_alert_after_s`` (a T-Bank payment
    once the rotation asked about it past that age); how many were raised."""
    settings = services.settings
    raised = 0
    with services.pool.connection() as conn:
        stuck = upkeep.due_for_alert(conn, alert_after_s=settings.payment_alert_after_s, limit=ALERT_BATCH)
    for payment in stuck:
        with services.pool.connection() as conn, conn.transaction():
            if not upkeep.mark_alerted(conn, id=payment["id"]):
                continue
            hours = settings.payment_alert_after_s // 3600
            raise_alert(conn, kind="payment_stuck", severity="warning",
                        message=f"payment {payment['id']} ({payment['rail']}) is still {payment['status']} "
                                f"after {hours} h; it is cancelled at "
                                f"{settings.payment_cancel_after_s // 3600} h",
                        details={"payment_id": payment["id"], "rail": payment["rail"],
                                 "provider_payment_id": payment["provider_payment_id"]},
                        dedup_key=f"payment_stuck:{payment['id']}")
            raised += 1
    return raised


def close_overdue(services: Services) -> int:
    """Cancel at the bank and close here every open payment past ``payment_cancel_after_s`` (see the module's
    docstring); how many were closed. A bank that does not answer leaves the payment for the next run."""
    settings = services.settings
    with services.pool.connection() as conn:
        overdue = upkeep.due_for_cancel(conn, cancel_after_s=settings.payment_cancel_after_s, limit=CANCEL_BATCH)
    closed = 0
    for payment in overdue:
        try:
            closed += _close_one(services, payment)
        except TBankError as err:
            log(logger, "payment_cancel_failed", level=logging.WARNING, payment_id=payment["id"], code=err.code,
                retryable=err.retryable)
    return closed


def _close_one(services: Services, payment: dict[str, Any]) -> bool:
    if payment["rail"] == "stars":
        return _close_here(services, payment, held=False)
    state = services.tbank.get_state(payment["provider_payment_id"])
    if state.status in HELD_OPEN:
        result = services.tbank.cancel(payment["provider_payment_id"])
        if result.status not in CLOSED_WITHOUT_MONEY:  # paid between our GetState and the Cancel: refunded
            return _money_moved(services, payment, bank_status=result.status, bank_amount=state.amount)
        log(logger, "payment_canceled_at_bank", payment_id=payment["id"], bank_status=result.status)
        return _close_here(services, payment, held=state.status == "AUTHORIZED")
    if state.status in CLOSED_WITHOUT_MONEY:
        return _close_here(services, payment, held=state.status == "REVERSED")
    if state.status in MONEY_TAKEN:
        return _money_moved(services, payment, bank_status=state.status, bank_amount=state.amount)
    log(logger, "payment_cancel_deferred", payment_id=payment["id"], bank_status=state.status)
    return False  # in flight at the bank (3-DS, authorizing, confirming): asked again next run


def _close_here(services: Services, payment: dict[str, Any], *, held: bool) -> bool:
    """Close the payment as the bank has it (no money taken; ``held``: a reservation was released) and queue the
    payer's notice, in one transaction."""
    target = "canceled" if payment["status"] == "authorized" else "expired"
    with services.pool.connection() as conn, conn.transaction():
        moved = payments.move_status(conn, id=payment["id"], new=target)
        if moved is None or moved["status"] != target:
            return False
        user = users.get_user(conn, id=payment["user_id"])
        if user is None:  # erased meanwhile (privacy): nobody to tell
            return True
        queue_payment_closed_notice(conn, user=user, hours=services.settings.payment_cancel_after_s // 3600,
                                    held=held or payment["status"] == "authorized")
    log(logger, "payment_closed_overdue", payment_id=payment["id"], rail=payment["rail"], status=target)
    return True


def _money_moved(services: Services, payment: dict[str, Any], *, bank_status: str, bank_amount: int) -> bool:
    """The bank took money for a payment we were about to close: apply its status, never cancel it."""
    with services.pool.connection() as conn, conn.transaction():
        payment_status.reconcile(conn, payment=payment, bank_status=bank_status, bank_amount=bank_amount)
        if TBANK_TO_PAYMENT.get(bank_status) != "confirmed":  # refunded by our Cancel: a person must look
            raise_alert(conn, kind="payment_paid_at_cancel", severity="critical",
                        message=f"payment {payment['id']} was {bank_status} at T-Bank when it was cancelled "
                                f"at {services.settings.payment_cancel_after_s // 3600} h: check it by hand",
                        details={"payment_id": payment["id"], "bank_status": bank_status},
                        dedup_key=f"payment_paid_at_cancel:{payment['id']}")
    log(logger, "payment_paid_not_canceled", payment_id=payment["id"], bank_status=bank_status)
    return False
