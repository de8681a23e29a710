"""Sending one delivery chunk to a user's chat, exactly as recorded: a chunk that was sent or blocked is never
sent again; the intent is recorded before the call and the result right after.

The policy for a send whose outcome is unknown (issue 10 item 15): **a chunk is never sent twice when we cannot
know that its first send failed.** The intent ('sending', ``last_error`` NULL) is recorded just before the call.
When the call fails in a way that proves nothing was sent, or nothing we can see — a Bot API error object:
429 or the 400 "Too Many Requests: retry after N" flood answer, a JSON 5xx, a failed connect — the chunk is
marked ``RETRY_MARK`` and the next attempt sends it again. When the answer was lost after the request left (read
timeout, reset connection, a proxy's 5xx page) or a worker died mid-call (the chunk is still 'sending' without
the mark), the chunk ends 'sent' with ``last_error`` ``UNKNOWN_OUTCOME`` and is not re-sent: the photos are in
the gallery whatever happened, and the summary message says the gallery holds every portrait.
A flood answer to an album may have delivered its first items; the album is re-sent after the wait (Telegram
gives no way to know which items arrived), so those items may show twice — rare, and never a loss.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from db import deliveries, outbox, users
from gateways.telegram import TelegramError
from rules import bot_texts
from runtime import Services
from runtime.limits import acquire_telegram
from runtime.outcomes import Defer
from telemetry.logs import log

if TYPE_CHECKING:
    from psycopg import Connection

logger = logging.getLogger("usecases.sending")

RETRY_MARK = "retry: nothing sent"  # last_error of a 'sending' chunk whose last call provably sent nothing
UNKNOWN_OUTCOME = "outcome unknown: not re-sent (the gallery holds every portrait)"
SUMMARY_CHUNK = 900  # chunk numbers of the follow-up messages, after any number of albums
NOTICE_CHUNK = 901


def send_chunk(services: Services, *, job_id: int, user: Mapping[str, Any], chunk: int, kind: str,
               photos: Sequence[Mapping[str, Any]] = (), text: str | None = None, caption: str | None = None,
               reply_markup: Mapping[str, Any] | None = None) -> str:
    """Send the chunk unless already done; returns its final status ('sent', 'blocked' or 'failed').

    Raises Defer when a Telegram limit (ours or theirs) says wait, and the TelegramError when retrying may help.
    """
    pool, settings = services.pool, services.settings
    with pool.connection() as conn:
        row = deliveries.ensure_chunk(conn, job_id=job_id, chunk=chunk, kind=kind,
                                    photo_ids=[photo["id"] for photo in photos])
    if row["status"] in ("sent", "blocked", "failed"):
        return row["status"]
    if row["status"] == "sending" and row["last_error"] != RETRY_MARK:
        # The last attempt's call may have delivered it (answer lost, or the worker died mid-call).
        with pool.connection() as conn:
            deliveries.finish_chunk(conn, job_id=job_id, chunk=chunk, status="sent", error=UNKNOWN_OUTCOME)
        log(logger, "chunk_outcome_unknown", level=logging.WARNING, job_id=job_id, chunk=chunk, kind=kind)
        return "sent"
    if user["bot_blocked"]:
        with pool.connection() as conn:
            deliveries.finish_chunk(conn, job_id=job_id, chunk=chunk, status="blocked", error="bot blocked")
        return "blocked"
    wait_s = acquire_telegram(services.redis, chat_id=user["telegram_id"], cost=max(1, len(photos)),
                              chat_rate=settings.tg_chat_rate, chat_burst=settings.tg_chat_burst,
                              global_rate=settings.tg_global_rate, global_burst=settings.tg_global_burst,
                              namespace=settings.broker_namespace)
    if wait_s > 0:
        raise Defer(int(wait_s * 1000) + 50, "telegram flood limit (ours)")
    blobs = [services.storage.get(photo["storage_key"]) for photo in photos]  # before the intent: a narrow window
    with pool.connection() as conn:
        if deliveries.start_sending(conn, job_id=job_id, chunk=chunk) is None:
            return "sent"
        # the intent of this attempt: no retry mark until this call proves it sent nothing
        deliveries.finish_chunk(conn, job_id=job_id, chunk=chunk, status="sending", error=None)
    try:
        message_ids = _send(services, user["telegram_id"], blobs=blobs, text=text, caption=caption,
                            reply_markup=reply_markup)
    except TelegramError as err:
        return _on_error(services, job_id=job_id, user=user, chunk=chunk, err=err)
    with pool.connection() as conn:
        deliveries.finish_chunk(conn, job_id=job_id, chunk=chunk, status="sent", message_ids=message_ids)
    log(logger, "chunk_sent", job_id=job_id, chunk=chunk, kind=kind, photos=len(photos))
    return "sent"


def _send(services: Services, chat_id: int, *, blobs: Sequence[bytes], text: str | None,
          caption: str | None, reply_markup: Mapping[str, Any] | None) -> list[int]:
    telegram = services.telegram
    if not blobs:
        return [telegram.send_message(chat_id, text or "", reply_markup=reply_markup)]
    if len(blobs) == 1:
        return [telegram.send_photo(chat_id, blobs[0], caption=caption, reply_markup=reply_markup)]
    return telegram.send_media_group(chat_id, blobs, caption=caption)


def _on_error(services: Services, *, job_id: int, user: Mapping[str, Any], chunk: int, err: TelegramError) -> str:
    pool = services.pool
    if err.blocked:
        with pool.connection() as conn, conn.transaction():
            deliveries.finish_chunk(conn, job_id=job_id, chunk=chunk, status="blocked", error=err.message[:300])
            users.set_bot_blocked(conn, id=user["id"], blocked=True)
        log(logger, "chat_blocked", job_id=job_id, chunk=chunk)
        return "blocked"
    if err.retryable and not err.outcome_unknown:
        with pool.connection() as conn:  # provably nothing (or, for a flood answer, part of an album) sent
            deliveries.finish_chunk(conn, job_id=job_id, chunk=chunk, status="sending", error=RETRY_MARK)
    if err.retry_after is not None:
        raise Defer(int(err.retry_after * 1000) + 100, "telegram flood wait (429 retry_after)")
    if not err.retryable:
        with pool.connection() as conn:
            deliveries.finish_chunk(conn, job_id=job_id, chunk=chunk, status="failed", error=err.message[:300])
        log(logger, "chunk_failed", level=logging.ERROR, job_id=job_id, chunk=chunk, code=err.code)
        return "failed"
    raise err


def send_refund_notice(services: Services, *, job: Mapping[str, Any], user: Mapping[str, Any],
                       refund: Mapping[str, Any]) -> None:
    """Tell the user how many photos were refunded and how much (the job's notice chunk, sent once)."""
    text = bot_texts.refund_notice(refunded=refund["photos_refunded"], total=job["total_photos"],
                                   amount_kopecks=refund["amount_kopecks"])
    send_chunk(services, job_id=job["id"], user=user, chunk=NOTICE_CHUNK, kind="notice", text=text)


def queue_payment_closed_notice(conn: Connection, *, user: Mapping[str, Any], hours: int, held: bool) -> str:
    """Tell the payer their checkout was cancelled after ``hours`` unpaid (``held``: the bank had reserved the
    money): a ``send_bot_reply`` written to the outbox in the caller's transaction — the one that closed the
    payment, so the notice goes out once (the close is a conditional move only one run wins). The message id."""
    text = bot_texts.payment_closed_notice(hours=hours, held=held)
    return outbox.send(conn, "send_bot_reply", user["id"], user["telegram_id"], text, None)
