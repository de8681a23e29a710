"""Mini App authentication: ``Authorization: tma <raw initData>``, validated per providers.md, and the
Telegram user registered (or refreshed) as ours. Views get the user row from ``g.user``."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from db import users
from gateways.initdata import InitDataError, MiniAppUser, validate_init_data
from web.errors import ApiError


def new_referral_code() -> str:
    return secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")


def register_user(conn: Any, tg_user: MiniAppUser | Any, *, start_param: str | None = None) -> dict[str, Any]:
    """The user row for a Telegram user, created on first sight; ``start_param`` ``ref_<code>`` (or a bare
    code) names who invited them, honoured once and never for oneself."""
    row = users.upsert_user(conn, telegram_id=tg_user.id, username=tg_user.username, first_name=tg_user.first_name,
                            language_code=tg_user.language_code, referral_code=new_referral_code())
    code = (start_param or "").removeprefix("ref_").strip()
    if code and row["referred_by"] is None:
        inviter = users.get_user_by_referral_code(conn, referral_code=code)
        if inviter is not None and inviter["id"] != row["id"]:
            row = users.set_referrer(conn, id=row["id"], referrer_id=inviter["id"]) or row
    return row


def require_user(view: Callable[..., Any]) -> Callable[..., Any]:
    """Reject the request with 401 unless it carries valid, fresh initData; set ``g.user``."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        fleet = current_app.extensions["pinglass"]
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "tma" or not raw.strip():
            raise ApiError(401, "INITDATA_MISSING", "send Authorization: tma <initData>")
        try:
            tg_user = validate_init_data(raw.strip(), fleet.settings.telegram_bot_token,
                                         max_age_s=fleet.settings.initdata_max_age_s)
        except InitDataError as err:
            raise ApiError(401, err.code, "initData is not valid") from None
        with fleet.services.pool.connection() as conn, conn.transaction():
            g.user = register_user(conn, tg_user, start_param=tg_user.start_param)
        return view(*args, **kwargs)

    return wrapped
