"""Mini App authentication: ``Authorization: tma <raw initData>``, validated per
docs/providers.md#telegram-mini-app-initdata, and the Telegram user registered (or refreshed) as ours. Views
get the user row from ``g.user``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from db.users import register_user
from gateways.initdata import InitDataError, validate_init_data
from web.errors import ApiError


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
