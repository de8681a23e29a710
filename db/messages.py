"""Dedup rows, dead letters and admin alerts."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db import outbox
from db.queries import execute, fetch_all, fetch_one


def claim_message(conn: Connection, *, message_id: str, actor: str) -> bool:
    """True the first time (message, actor) is seen in a committed transaction; False for a redelivery."""
    return fetch_one(conn, "messages.claim_message", {"message_id": message_id, "actor": actor}) \
            is not None


def purge_processed(conn: Connection, *, older_than_s: float) -> int:
    return execute(conn, "messages.purge_processed", {"older_than_s": older_than_s})


def insert_dead_letter(conn: Connection, *, message_id: str, actor: str, queue_name: str, payload: dict[str, Any],
                       error: str, traceback: str | None, attempts: int) -> int:
    return fetch_one(conn, "messages.insert_dead_letter", {
        "message_id": message_id, "actor": actor, "queue_name": queue_name, "payload": Jsonb(payload),
        "error": error[:4000], "traceback": traceback, "attempts": attempts,
    })["id"]


def get_dead_letter(conn: Connection, *, id: int) -> dict[str, Any] | None:
    return fetch_one(conn, "messages.get_dead_letter", {"id": id})


def list_dead_letters(conn: Connection, *, open_only: bool = True, limit: int = 100) -> list[dict[str, Any]]:
    return fetch_all(conn, "messages.list_dead_letters", {"open_only": open_only, "limit": limit})


def mark_replayed(conn: Connection, *, id: int, replay_message_id: str) -> bool:
    return fetch_one(conn, "messages.mark_replayed", {"id": id, "replay_message_id": replay_message_id}) is not None


def raise_alert(conn: Connection, *, kind: str, message: str, severity: str = "error",
                details: dict[str, Any] | None = None, dedup_key: str | None = None) -> int | None:
    """Record an alert for admins and queue its Telegram announcement in the same transaction.

    With a ``dedup_key`` the same alert is raised once (None is returned for the repeats).
    """
    row = fetch_one(conn, "messages.insert_alert", {
        "kind": kind, "severity": severity, "message": message, "details": Jsonb(details or {}),
        "dedup_key": dedup_key})
    if row is None:
        return None
    outbox.send(conn, "notify_admin", row["id"])
    return row["id"]


def get_alert(conn: Connection, *, id: int) -> dict[str, Any] | None:
    return fetch_one(conn, "messages.get_alert", {"id": id})


def mark_alert_sent(conn: Connection, *, id: int) -> bool:
    return fetch_one(conn, "messages.mark_alert_sent", {"id": id}) is not None


def list_alerts(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    return fetch_all(conn, "messages.list_alerts", {"limit": limit})


def replay_dead_letter(conn: Connection, *, id: int) -> str | None:
    """Queue the dead letter's message again (a new message id, through the outbox) and mark it replayed;
    None when it does not exist or was already replayed."""
    letter = get_dead_letter(conn, id=id)
    if letter is None or letter["replayed_at"] is not None:
        return None
    payload = letter["payload"]
    new_id = outbox.send(conn, letter["actor"], *payload.get("args", []), **payload.get("kwargs", {}))
    if not mark_replayed(conn, id=id, replay_message_id=new_id):
        raise RuntimeError("dead letter replayed concurrently")  # rolls back the outbox row above
    return new_id
