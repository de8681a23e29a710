"""Publishing outbox rows to the broker: right after commit (by the unit-of-work owner) and by the relay."""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq
from dramatiq import Broker
from dramatiq.errors import ActorNotFound
from psycopg_pool import ConnectionPool

from db import outbox
from telemetry import metrics
from telemetry.logs import log

logger = logging.getLogger("workers.publisher")


def publish(pool: ConnectionPool, broker: Broker, *, ids: list[int] | None = None, older_than_s: float = 0,
            via: str = "commit") -> int:
    """Publish unpublished outbox rows (the given ids, or any older than ``older_than_s``); returns how many.

    Rows are locked while published and marked in the same transaction, so two publishers never send one row
    at the same moment. If the broker fails mid-way the transaction rolls back and the rows wait for the
    relay; a row sent but not marked (a crash right after enqueue) is sent again with the same message id,
    and the downstream dedup table recognises it.
    """
    if ids is not None and not ids:
        return 0
    with pool.connection() as conn, conn.transaction():
        rows = outbox.claim_rows(conn, ids=ids, older_than_s=older_than_s)
        if not rows:
            return 0
        now = time.time()
        sent: list[int] = []
        for row in rows:
            try:
                actor = broker.get_actor(row["actor_name"])
            except ActorNotFound:
                # e.g. rows of an actor a deploy removed: skipped (and logged), never blocking the rows behind
                log(logger, "outbox_unknown_actor", level=logging.ERROR, row_id=row["id"], actor=row["actor_name"])
                continue
            options = {"correlation_id": row["correlation_id"]} if row["correlation_id"] else {}
            message: dramatiq.Message[Any] = dramatiq.Message(queue_name=actor.queue_name, actor_name=row["actor_name"],
                                       args=tuple(row["args"]), kwargs=row["kwargs"], options=options,
                                       message_id=row["message_id"])
            remaining_ms = int(row["delay_ms"] - (now - float(row["created_epoch"])) * 1000)
            broker.enqueue(message, delay=remaining_ms if remaining_ms > 0 else None)
            sent.append(row["id"])
        if sent:
            outbox.mark_published(conn, ids=sent)
    metrics.OUTBOX_PUBLISHED.labels(via).inc(len(sent))
    return len(sent)


def publish_quietly(pool: ConnectionPool, broker: Broker, ids: list[int], *, via: str) -> None:
    """Publish after commit; a broker outage is logged, not raised: the relay publishes those rows later."""
    try:
        publish(pool, broker, ids=ids, via=via)
    except Exception as exc:  # noqa: BLE001 — the rows are safe in the outbox; the relay will send them
        log(logger, "outbox_publish_deferred", level=logging.WARNING, rows=len(ids), error=type(exc).__name__)
