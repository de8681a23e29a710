"""The exactly-once step of an actor: its dedup row and its effect in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dramatiq.middleware import CurrentMessage
from psycopg import Connection

import runtime
from db import outbox


@contextmanager
def effect_once(actor: str) -> Iterator[Connection | None]:
    """A transaction holding this message's dedup row; yields None when an earlier delivery of the same
    message already committed (then the caller does nothing). Outbox rows written inside are published by
    the worker middleware after the actor returns."""
    message = CurrentMessage.get_current_message()
    with runtime.current().pool.connection() as conn, conn.transaction():
        if message is not None and not outbox.claim_message(conn, message_id=message.message_id, actor=actor):
            yield None
            return
        yield conn


@contextmanager
def transaction() -> Iterator[Connection]:
    """A plain transaction for an intermediate step (recording an intent before a provider call)."""
    with runtime.current().pool.connection() as conn, conn.transaction():
        yield conn
