"""Avatars and their reference photos."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from db.queries import fetch_all, fetch_one, fetch_row

Row = dict[str, Any]


def insert_avatar(conn: Connection, *, user_id: int, name: str) -> Row:
    return fetch_row(conn, "avatars.insert_avatar", {"user_id": user_id, "name": name})


def get_avatar(conn: Connection, *, id: int, user_id: int, lock: bool = False) -> Row | None:
    """The user's live avatar (with ``reference_count``), or None — someone else's id reads as missing."""
    if lock:
        return fetch_one(conn, "avatars.lock_avatar", {"id": id, "user_id": user_id})
    return fetch_one(conn, "avatars.get_avatar", {"id": id, "user_id": user_id})


def list_avatars(conn: Connection, *, user_id: int) -> list[Row]:
    return fetch_all(conn, "avatars.list_avatars", {"user_id": user_id})


def soft_delete_avatar(conn: Connection, *, id: int, user_id: int) -> Row | None:
    return fetch_one(conn, "avatars.soft_delete_avatar", {"id": id, "user_id": user_id})


def insert_reference(conn: Connection, *, avatar_id: int, storage_key: str, sha256: str, width: int, height: int,
                     size_bytes: int, content_type: str, source: str = "upload",
                     telegram_file_unique_id: str | None = None) -> Row | None:
    """The new reference, or None when the avatar already has this exact photo (same SHA-256)."""
    return fetch_one(conn, "avatars.insert_reference", {
        "avatar_id": avatar_id, "storage_key": storage_key, "sha256": sha256, "width": width, "height": height,
        "size_bytes": size_bytes, "content_type": content_type, "source": source,
        "telegram_file_unique_id": telegram_file_unique_id})


def references_of_avatar(conn: Connection, *, avatar_id: int) -> list[Row]:
    return fetch_all(conn, "avatars.references_of_avatar", {"avatar_id": avatar_id})


def delete_reference(conn: Connection, *, id: int, avatar_id: int) -> Row | None:
    """Remove one reference photo's row; its storage key, or None when the avatar has no such reference."""
    return fetch_one(conn, "avatars.delete_reference", {"id": id, "avatar_id": avatar_id})


def reference_count(conn: Connection, *, avatar_id: int) -> int:
    return fetch_row(conn, "avatars.reference_count", {"avatar_id": avatar_id})["n"]
