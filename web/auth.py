"""Mini App authentication: ``Authorization: tma <raw initData>``, validated per
docs/providers.md#telegram-mini-app-initdata, and the Telegram user registered (or refreshed) as ours. Views
get the user row from ``g.user``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from gateways.initdata import InitDataError, MiniAppUser, validate_init_data
from usecases.users import register_user
from web.errors import ApiError


def validated_init_data(raw: str) -> MiniAppUser | None:
    """The Telegram user of ``raw`` initData, validated once per request (the rate-limit hook and
    ``require_user`` share the result on ``flask.g``); None when it is not valid (``g.initdata_error`` says
    why)."""
    if getattr(g, "initdata_raw", None) == raw:
        return g.initdata_user
    fleet = current_app.extensions["pinglass"]
    g.initdata_raw, g.initdata_user, g.initdata_error = raw, None, None
    try:
        g.initdata_user = validate_init_data(raw, fleet.settings.telegram_bot_token,
                                             max_age_s=fleet.settings.initdata_max_age_s)
    except InitDataError as err:
        g.initdata_error = err
    return g.initdata_user


def telegram_user() -> MiniAppUser:
    """The request's Telegram user from its ``Authorization: tma <initData>``; ApiError 401 when it is missing
    or not valid."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "tma" or not raw.strip():
        raise ApiError(401, "INITDATA_MISSING", "send Authorization: tma <initData>")
    tg_user = validated_init_data(raw.strip())
    if tg_user is None:
        raise ApiError(401, g.initdata_error.code, "initData is not valid") from None
    return tg_user


def require_user(view: Callable[..., Any]) -> Callable[..., Any]:
    """Reject the request with 401 unless it carries valid, fresh initData; set ``g.user``."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        fleet = current_app.extensions["pinglass"]
        tg_user = telegram_user()
        with fleet.services.pool.connection() as conn:  # one read for a known user; a write has its transaction
            g.user = register_user(conn, tg_user, start_param=tg_user.start_param)
        return view(*args, **kwargs)

    return wrapped


def require_telegram_user(view: Callable[..., Any]) -> Callable[..., Any]:
    """Like ``require_user`` for an answer that is the same for every user (the catalog): valid, fresh initData
    or 401, but no row is read or written — the person is registered by the first call that needs them (the
    Mini App opens on its home screen, GET /api/v1/home)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        telegram_user()
        return view(*args, **kwargs)

    return wrapped
