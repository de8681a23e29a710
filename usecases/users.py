"""The people we know: a Telegram user registered (or their profile refreshed) when they open the Mini App or
write to the bot, with whoever invited them; and whether they still accept the bot's messages.

**Referrals**: the person who invited a payer earns a share of what the business kept of the payment —
credited once per payment when its job starts, and reversed in part or in whole by its refunds, once per
refund, never below zero (I7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.pq import TransactionStatus

from db import referrals, users
from db.users import TelegramProfile
from rules.money import referral_share
from rules.referrals import reversal_for_refund

if TYPE_CHECKING:
    from psycopg import Connection


def register_user(conn: Connection, tg_user: TelegramProfile, *, start_param: str | None = None) -> dict[str, Any]:
    """The user's row, created on first sight (``start_param`` ``ref_<code>`` records who invited them).

    Inside the caller's transaction or on an autocommit connection outside one (the Mini App's auth, on every
    request): a known user with the same profile and nothing to record is one read, with no transaction's
    BEGIN and COMMIT round trips; anything to write is written in a transaction of its own (a savepoint in the
    caller's)."""
    row = users.get_user_by_telegram_id(conn, telegram_id=tg_user.id)
    if row is not None and not _user_changes(row, tg_user, start_param):
        return row
    if conn.info.transaction_status != TransactionStatus.IDLE:
        with conn.transaction():  # a savepoint in the caller's transaction
            return users.register_user(conn, tg_user, start_param=start_param)
    # A transaction of its own whose commit need not wait for the disk (100 people opening the app at once wait
    # for 100 flushes otherwise): a crash can lose only a registration nothing durable depends on yet — anything
    # written later for the user commits durably, and WAL reaches the disk in order, so this row goes first — and
    # the next request registers them again (the invite code comes with every request's initData).
    if not _invited(row, start_param):
        return users.upsert_without_waiting(conn, tg_user)  # one round trip: BEGIN, the setting, the write, COMMIT
    with conn.transaction():
        users.commit_without_waiting(conn)
        return users.register_user(conn, tg_user, start_param=start_param, current=row)


def _user_changes(row: dict[str, Any], tg_user: TelegramProfile, start_param: str | None) -> bool:
    """Whether registering ``tg_user`` would write: a changed profile, or an invite code not yet honoured."""
    profile = (tg_user.username, tg_user.first_name, tg_user.language_code)
    return (row["username"], row["first_name"], row["language_code"]) != profile or _invited(row, start_param)


def _invited(row: dict[str, Any] | None, start_param: str | None) -> bool:
    """Whether an invite code comes that is not honoured yet (it may be someone else's, or the person's own)."""
    return bool((start_param or "").removeprefix("ref_").strip()) and (row is None or row["referred_by"] is None)


def set_bot_blocked(conn: Connection, *, user_id: int, blocked: bool) -> None:
    users.set_bot_blocked(conn, id=user_id, blocked=blocked)


# Referrals

def credit_referrer(conn: Connection, *, payment: dict[str, Any], percent: int) -> bool:
    """Credit the payer's referrer with ``percent`` of the payment, in the caller's transaction; False when the
    payer was not referred or the payment was credited already (``referral_earnings_payment_key``)."""
    user = users.get_user(conn, id=payment["user_id"])
    if user is None or user["referred_by"] is None:
        return False
    return referrals.insert_referral(conn, payment_id=payment["id"], referrer_user_id=user["referred_by"],
                                     referred_user_id=user["id"],
                                     amount_kopecks=referral_share(payment["amount_kopecks"], percent))


def referral_stats(conn: Connection, *, user_id: int) -> dict[str, Any]:
    """What the user's invite code brought: ``invited``, ``paying`` (of them, who paid), ``earned_kopecks``
    (every credit, as credited), ``reversed_kopecks`` (what refunds took back) and ``balance_kopecks``."""
    stats = referrals.stats(conn, user_id=user_id)
    return {**stats, "balance_kopecks": stats["earned_kopecks"] - stats["reversed_kopecks"]}


def reverse_for_refund(conn: Connection, *, refund: dict[str, Any], percent: int) -> int:
    """Reverse the inviter's share of a refund that just succeeded, in the caller's transaction (once per
    refund: ``referral_reversals_refund_key``); the kopecks reversed (0 when the payment earned no credit or
    this refund was reversed already). The credit goes down to ``percent`` of what the business kept after
    every refund so far (``rules.referrals.reversal_for_refund``): a full refund reverses all of it."""
    earning = referrals.lock_earning_of_payment(conn, payment_id=refund["payment_id"])
    if earning is None:
        return 0
    amount = reversal_for_refund(paid=earning["paid_kopecks"], credited=earning["amount_kopecks"],
                                 reversed_before=earning["reversed_kopecks"],
                                 refunded_before=int(earning["refunded_before_kopecks"]),
                                 refund=refund["amount_kopecks"], percent=percent)
    if not referrals.insert_reversal(conn, refund_id=refund["id"], earning_id=earning["id"], amount_kopecks=amount):
        return 0
    if amount:
        referrals.add_reversed(conn, id=earning["id"], amount_kopecks=amount)
    return amount


def referrer_balances(conn: Connection, *, limit: int = 200) -> list[dict[str, Any]]:
    """Every referrer's earnings, reversals and balance, largest balance first (the admin's table)."""
    return referrals.referrer_balances(conn, limit=limit)
