"""Messages exactly once, both halves: the transactional outbox (messages are rows written in the caller's
transaction and published after commit) and the dedup rows of processed messages (``processed_messages``: one
(message, actor) acted on once, in the same transaction as the actor's effect).

``send`` only writes; the ids it wrote are remembered for the current unit of work (a request or a message)
so that whoever owns it — the worker middleware or the web's after-request hook — publishes them right after
commit. Rows left behind (crash, Redis down) are published by the relay. Message ids are fixed here, at insert,
so a row published twice is recognised downstream by the dedup table.
"""

from __future__ import annotations

import contextvars
import uuid
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.queries import execute, fetch_all, fetch_one, fetch_row
from telemetry.context import correlation_id

_pending: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("outbox_pending", default=None)


def send(conn: Connection, actor_name: str, *args: Any, delay_ms: int = 0, **kwargs: Any) -> str:
    """Write a message for ``actor_name`` in the caller's transaction; returns its fixed message id."""
    message_id = str(uuid.uuid4())
    row = fetch_row(conn, "outbox.insert", {
        "message_id": message_id, "actor_name": actor_name, "args": Jsonb(list(args)), "kwargs": Jsonb(kwargs),
        "delay_ms": max(0, int(delay_ms)), "correlation_id": correlation_id()})
    pending = _pending.get()
    if pending is not None:
        pending.append(row["id"])
    return message_id


def begin_unit() -> contextvars.Token[list[int] | None]:
    """Start remembering the outbox rows written by this unit of work."""
    return _pending.set([])


def end_unit(token: contextvars.Token[list[int] | None]) -> list[int]:
    """Stop remembering and return the row ids written since ``begin_unit`` (committed or not)."""
    ids = _pending.get() or []
    _pending.reset(token)
    return ids


def claim_rows(conn: Connection, *, ids: list[int] | None = None, older_than_s: float = 0,
               limit: int = 500) -> list[dict[str, Any]]:
    """Lock unpublished rows (given ids, or any older than ``older_than_s``) for publishing; SKIP LOCKED so the
    after-commit publisher and the relay never publish the same row at the same moment."""
    if ids is not None:
        return fetch_all(conn, "outbox.claim_ids", {"ids": ids})
    return fetch_all(conn, "outbox.claim_old", {"older_than_s": older_than_s, "limit": limit})


def mark_published(conn: Connection, *, ids: list[int]) -> None:
    execute(conn, "outbox.mark_published", {"ids": ids})


def backlog(conn: Connection) -> int:
    return fetch_row(conn, "outbox.backlog")["n"]


def purge_published(conn: Connection, *, older_than_s: float) -> int:
    return execute(conn, "outbox.purge_published", {"older_than_s": older_than_s})


def claim_message(conn: Connection, *, message_id: str, actor: str) -> bool:
    """True the first time (message, actor) is seen in a committed transaction; False for a redelivery."""
    return fetch_one(conn, "outbox.claim_message", {"message_id": message_id, "actor": actor}) \
            is not None


def purge_processed(conn: Connection, *, older_than_s: float) -> int:
    return execute(conn, "outbox.purge_processed", {"older_than_s": older_than_s})
