"""Users: their Telegram profile, referral code and referrer, bot state and draft avatar."""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from psycopg import Connection

from db.queries import execute, fetch_one, fetch_row, fetch_together

Row = dict[str, Any]


def commit_without_waiting(conn: Connection) -> None:
    """The current transaction commits without waiting for the disk (``synchronous_commit = off``, this
    transaction only)."""
    execute(conn, "users.commit_without_waiting")


def upsert_user(conn: Connection, *, telegram_id: int, username: str | None, first_name: str | None,
                language_code: str | None, referral_code: str, referred_by: int | None = None) -> Row:
    """Register the Telegram user or refresh their profile; ``referral_code`` is used only for a new row."""
    return fetch_row(conn, "users.upsert_user", {
        "telegram_id": telegram_id, "username": username, "first_name": first_name,
        "language_code": language_code, "referral_code": referral_code, "referred_by": referred_by})


class TelegramProfile(Protocol):
    """Who a Telegram user is (a Mini App's initData user, or the sender of a bot update)."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str | None: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def language_code(self) -> str | None: ...


def new_referral_code() -> str:
    return secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")


_UNREAD: Any = object()


def upsert_without_waiting(conn: Connection, tg_user: TelegramProfile) -> Row:
    """Register (or refresh) ``tg_user`` in a transaction of its own whose commit does not wait for the disk (see
    the caller), in one round trip (``fetch_together``)."""
    _, (row,) = fetch_together(conn, [("users.commit_without_waiting", {}), ("users.upsert_user", {
        "telegram_id": tg_user.id, "username": tg_user.username, "first_name": tg_user.first_name,
        "language_code": tg_user.language_code, "referral_code": new_referral_code(), "referred_by": None})])
    return row


def register_user(conn: Connection, tg_user: TelegramProfile, *, start_param: str | None = None,
                  current: Row | None = _UNREAD) -> Row:
    """The user row for a Telegram user, created on first sight (the Mini App's auth and the bot's /start share
    it); ``start_param`` ``ref_<code>`` (or a bare code) names who invited them, honoured once and never for
    oneself. ``current``: their row (or None) as the caller just read it, not read again here — a write
    returns the row as it is now."""
    row = get_user_by_telegram_id(conn, telegram_id=tg_user.id) if current is _UNREAD else current
    profile = (tg_user.username, tg_user.first_name, tg_user.language_code)
    if row is None or (row["username"], row["first_name"], row["language_code"]) != profile:
        # Only a new user or a changed profile writes: every Mini App request comes through here (a poll a
        # second per open order), and a read-only transaction commits without a WAL flush or a dead row.
        row = upsert_user(conn, telegram_id=tg_user.id, username=tg_user.username, first_name=tg_user.first_name,
                          language_code=tg_user.language_code, referral_code=new_referral_code())
    code = (start_param or "").removeprefix("ref_").strip()
    if code and row["referred_by"] is None:
        inviter = get_user_by_referral_code(conn, referral_code=code)
        if inviter is not None and inviter["id"] != row["id"]:
            row = set_referrer(conn, id=row["id"], referrer_id=inviter["id"]) or row
    return row


def get_user(conn: Connection, *, id: int) -> Row | None:
    return fetch_one(conn, "users.get_user", {"id": id})


def owner(conn: Connection, *, id: int) -> Row:
    """The user behind a row that references them (a payment, a job): they exist, users are never deleted."""
    return fetch_row(conn, "users.get_user", {"id": id})


def get_user_by_telegram_id(conn: Connection, *, telegram_id: int) -> Row | None:
    return fetch_one(conn, "users.get_user_by_telegram_id", {"telegram_id": telegram_id})


def get_user_by_referral_code(conn: Connection, *, referral_code: str) -> Row | None:
    return fetch_one(conn, "users.get_user_by_referral_code", {"referral_code": referral_code})


def set_referrer(conn: Connection, *, id: int, referrer_id: int) -> Row | None:
    return fetch_one(conn, "users.set_referrer", {"id": id, "referrer_id": referrer_id})


def set_bot_blocked(conn: Connection, *, id: int, blocked: bool) -> None:
    execute(conn, "users.set_bot_blocked", {"id": id, "blocked": blocked})


def set_draft_avatar(conn: Connection, *, id: int, avatar_id: int | None) -> None:
    execute(conn, "users.set_draft_avatar", {"id": id, "avatar_id": avatar_id})


def lock_user(conn: Connection, *, id: int) -> Row:
    """Lock the user's row (it exists: users are never deleted, only erased in place)."""
    return fetch_row(conn, "users.lock_user", {"id": id})
