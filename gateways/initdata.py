"""Telegram Mini App ``initData``: validating what a Mini App sends us, and signing it the way Telegram does.

The Mini App sends the raw query string Telegram gave it (``Authorization: tma <initData>``). It is authentic
when its ``hash`` is the HMAC of the other fields under a key derived from our bot token
(docs/providers.md#telegram-mini-app-initdata):

    data_check_string = "\\n".join(f"{k}={v}" for k, v in sorted(fields without "hash"))
    secret = HMAC_SHA256(key=b"WebAppData", msg=bot_token)
    hash   = hex(HMAC_SHA256(key=secret, msg=data_check_string))

Values are compared URL-decoded, every field except ``hash`` (``signature`` included) takes part.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode

MAX_INIT_DATA_CHARS = 8192  # real initData is well under 2 KB; bounded parsing work for hostile input
MAX_FIELDS = 64


class InitDataError(Exception):
    """The initData cannot identify a user; ``code`` is the machine-readable reason the API returns.

    Codes: ``INITDATA_MISSING`` (nothing sent), ``INITDATA_MALFORMED`` (not a parsable, complete initData),
    ``INITDATA_BAD_HASH`` (not signed with our bot token, or altered), ``INITDATA_EXPIRED`` (too old).
    """

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


@dataclass(frozen=True)
class MiniAppUser:
    """The Telegram user a valid initData speaks for."""

    id: int
    first_name: str
    username: str | None
    language_code: str | None
    auth_date: int
    start_param: str | None


def validate_init_data(init_data: str, bot_token: str, *, max_age_s: int, now: float | None = None) -> MiniAppUser:
    """Return the user of an authentic initData no older than ``max_age_s``; raise InitDataError otherwise.

    The hash is checked before any field is interpreted, so a forged or altered string is always
    ``INITDATA_BAD_HASH`` whatever else is wrong with it.
    """
    if not init_data or not init_data.strip():
        raise InitDataError("INITDATA_MISSING", "no initData was sent")
    fields = _parse(init_data)
    received_hash = fields.pop("hash", None)
    if received_hash is None:
        raise InitDataError("INITDATA_MALFORMED", "initData has no hash")
    expected = _sign(fields, bot_token)
    # Constant-time: the comparison must not reveal how many leading characters of a guess were right.
    if not hmac.compare_digest(expected.encode(), received_hash.strip().lower().encode()):
        raise InitDataError("INITDATA_BAD_HASH", "initData hash does not match")
    auth_date = _auth_date(fields.get("auth_date"))
    current = time.time() if now is None else now
    if current - auth_date > max_age_s:
        raise InitDataError("INITDATA_EXPIRED", "initData is older than allowed")
    return _user(fields.get("user"), auth_date, fields.get("start_param"))


def sign_init_data(user: Mapping[str, object], bot_token: str, *, auth_date: int,
                   extra: Mapping[str, str] | None = None) -> str:
    """Build an initData string for ``user`` signed with ``bot_token``, as Telegram hands one to a Mini App.

    ``extra`` adds fields such as ``query_id``, ``start_param`` or ``chat_type``. The sandbox, the tests and the
    demo client use this to act as a Mini App user; production code only ever validates.
    """
    fields = {"user": json.dumps(dict(user), ensure_ascii=False, separators=(",", ":")),
              "auth_date": str(int(auth_date))}
    for key, value in (extra or {}).items():
        if key == "hash":
            raise ValueError("extra must not contain 'hash'")
        fields[key] = str(value)
    fields["hash"] = _sign(fields, bot_token)
    # Telegram percent-encodes spaces as %20; quote() keeps the string identical to what a client sends.
    return urlencode(fields, quote_via=quote)


def _sign(fields: Mapping[str, str], bot_token: str) -> str:
    data_check_string = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, data_check_string.encode(), hashlib.sha256).hexdigest()


def _parse(init_data: str) -> dict[str, str]:
    if len(init_data) > MAX_INIT_DATA_CHARS:
        raise InitDataError("INITDATA_MALFORMED", "initData is too long")
    try:
        pairs = parse_qsl(init_data.strip(), keep_blank_values=True, strict_parsing=True,
                          max_num_fields=MAX_FIELDS)
    except ValueError:
        raise InitDataError("INITDATA_MALFORMED", "initData is not a query string") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            # A repeated key would make "the" value ambiguous between us and whoever signed it.
            raise InitDataError("INITDATA_MALFORMED", "initData repeats a field")
        fields[key] = value
    return fields


def _auth_date(raw: str | None) -> int:
    if raw is None or not raw.isdigit():
        raise InitDataError("INITDATA_MALFORMED", "initData auth_date is missing or not a number")
    return int(raw)


def _user(raw: str | None, auth_date: int, start_param: str | None) -> MiniAppUser:
    if raw is None:
        raise InitDataError("INITDATA_MALFORMED", "initData has no user")
    try:
        data = json.loads(raw)
    except ValueError:
        raise InitDataError("INITDATA_MALFORMED", "initData user is not JSON") from None
    if not isinstance(data, dict):
        raise InitDataError("INITDATA_MALFORMED", "initData user is not an object")
    user_id = data.get("id")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
        raise InitDataError("INITDATA_MALFORMED", "initData user has no valid id")
    return MiniAppUser(id=user_id, first_name=_text(data, "first_name") or "", username=_text(data, "username"),
                       language_code=_text(data, "language_code"), auth_date=auth_date,
                       start_param=start_param or None)


def _text(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None
