"""Portrait credits, the partial policy of the Stars rail: Telegram refunds only whole Stars charges, so the
portraits a paid Stars job could not make are credited to the person as free portraits, never lost. They are
shown in the Mini App and redeemed as a job of kind 'credit' (no payment) of that many portraits; the credits are
spent in the transaction that creates the job, and a credit job that itself comes out partial credits the
missing ones back. Every grant and spend is a ledger row, once per job (``portrait_credits_job_kind_key``); the
balance never goes below zero (``portrait_credit_balances_nonnegative``)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from db import credits, jobs, outbox, users
from rules import bot_texts
from rules.catalog import STYLES, prompt_for
from usecases.errors import Refused
from usecases.payments import ready_avatar

if TYPE_CHECKING:
    from psycopg import Connection

CREDIT_TIER = "credit"  # generation_jobs.tier of a credit job: it was not bought as a tier


def grant_missing(conn: Connection, *, job: dict[str, Any], missing: int) -> int | None:
    """Credit ``missing`` portraits of ``job`` to its owner and queue the chat notice, in the caller's
    transaction; the new balance, or None when this job granted its credits already."""
    if missing <= 0 or credits.insert_entry(conn, user_id=job["user_id"], job_id=job["id"], kind="granted",
                                            photos=missing) is None:
        return None
    balance = credits.add_balance(conn, user_id=job["user_id"], photos=missing)
    user = users.owner(conn, id=job["user_id"])
    text = bot_texts.credits_granted_notice(missing=missing, total=job["total_photos"], balance=balance)
    outbox.send(conn, "send_bot_reply", user["id"], user["telegram_id"], text, None)
    return balance


def redeem(conn: Connection, *, user_id: int, avatar_id: int, style_id: str) -> dict[str, Any]:
    """Spend the whole balance on a credit job for the user's avatar in ``style_id`` (the job). Refused
    NO_CREDITS, NOT_FOUND (not the user's avatar), AVATAR_NOT_READY or UNKNOWN_STYLE, with nothing spent."""
    style = STYLES.get(style_id)
    if style is None:
        raise Refused("UNKNOWN_STYLE", f"unknown style {style_id!r}")
    balance = credits.lock_balance(conn, user_id=user_id)  # racing redemptions of one person queue here
    if balance <= 0:
        raise Refused("NO_CREDITS", "there are no free portraits to redeem")
    ready_avatar(conn, user_id=user_id, avatar_id=avatar_id)
    job = jobs.insert_job(conn, payment_id=None, kind="credit", user_id=user_id, avatar_id=avatar_id,
                          style_id=style_id, tier=CREDIT_TIER, total_photos=balance,
                          correlation_id=uuid.uuid4().hex)
    if job is None:  # only a payment's second job conflicts; a credit job has none
        raise LookupError("a credit job was not created")
    if credits.take_balance(conn, user_id=user_id, photos=balance) is None:
        raise Refused("NO_CREDITS", "there are no free portraits to redeem")  # unreachable under the lock
    credits.insert_entry(conn, user_id=user_id, job_id=job["id"], kind="spent", photos=balance)
    for index in range(balance):
        jobs.insert_task(conn, job_id=job["id"], prompt_index=index, attempt=1, prompt=prompt_for(style, index))
        outbox.send(conn, "create_kie_task", job["id"])
    return job


def credits_of_user(conn: Connection, *, user_id: int) -> dict[str, Any]:
    """The balance and the ledger, newest first."""
    return {"balance": credits.get_balance(conn, user_id=user_id),
            "history": credits.history(conn, user_id=user_id)}
