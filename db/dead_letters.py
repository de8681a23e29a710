"""Dead letters: messages that exhausted their retries, kept with payload, error and traceback."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.queries import fetch_all, fetch_one, fetch_row

Row = dict[str, Any]


def insert_dead_letter(conn: Connection, *, message_id: str, actor: str, queue_name: str, payload: dict[str, Any],
                       error: str, traceback: str | None, attempts: int) -> int:
    return fetch_row(conn, "dead_letters.insert_dead_letter", {
        "message_id": message_id, "actor": actor, "queue_name": queue_name, "payload": Jsonb(payload),
        "error": error[:4000], "traceback": traceback, "attempts": attempts,
    })["id"]


def get_dead_letter(conn: Connection, *, id: int) -> dict[str, Any] | None:
    return fetch_one(conn, "dead_letters.get_dead_letter", {"id": id})


def list_dead_letters(conn: Connection, *, open_only: bool = True, limit: int = 100) -> list[dict[str, Any]]:
    return fetch_all(conn, "dead_letters.list_dead_letters", {"open_only": open_only, "limit": limit})


def mark_replayed(conn: Connection, *, id: int, replay_message_id: str) -> bool:
    return fetch_one(conn, "dead_letters.mark_replayed", {"id": id, "replay_message_id": replay_message_id}) is not None


def mark_resolved(conn: Connection, *, id: int, resolution: str) -> bool:
    return fetch_one(conn, "dead_letters.mark_resolved", {"id": id, "resolution": resolution}) is not None
