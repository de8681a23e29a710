"""Operators' switches (``fleet_controls``)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from db.queries import Row, fetch_one, fetch_row


def set_control(conn: Connection, *, name: str, value: dict[str, Any]) -> Row:
    return fetch_row(conn, "controls.set_control", {"name": name, "value": Jsonb(value)})


def get_control(conn: Connection, *, name: str) -> Row | None:
    return fetch_one(conn, "controls.get_control", {"name": name})
