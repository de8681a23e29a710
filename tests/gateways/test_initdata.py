"""Mini App initData: what passes, and why everything else is refused with which code."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from gateways.initdata import InitDataError, MiniAppUser, sign_init_data, validate_init_data

TOKEN = "100000:SANDBOX-bot-token"
NOW = 1_760_000_000
USER = {"id": 424242, "first_name": "Анна", "username": "anna_k", "language_code": "ru", "is_premium": True}

# The worked example published with the Telegram Mini Apps init-data documentation (docs.telegram-mini-apps.com):
# signed by Telegram's algorithm, not by ours, so it pins the algorithm rather than agreeing with itself.
PUBLISHED_TOKEN = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8"
PUBLISHED_INIT_DATA = (
    "query_id=AAHdF6IQAAAAAN0XohDhrOrc"
    "&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22%3A%22Kibenko%22"
    "%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%7D"
    "&auth_date=1662771648&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2")


def _code(init_data: str, *, token: str = TOKEN, max_age_s: int = 3600, now: float = NOW + 10) -> str:
    with pytest.raises(InitDataError) as caught:
        validate_init_data(init_data, token, max_age_s=max_age_s, now=now)
    return caught.value.code


def _replace(init_data: str, key: str, value: str) -> str:
    pairs = [(k, value if k == key else v) for k, v in parse_qsl(init_data, keep_blank_values=True)]
    return urlencode(pairs, quote_via=quote)


def test_published_telegram_example_is_valid_and_names_its_user() -> None:
    user = validate_init_data(PUBLISHED_INIT_DATA, PUBLISHED_TOKEN, max_age_s=3600, now=1662771648 + 60)
    assert user == MiniAppUser(id=279058397, first_name="Vladislav", username="vdkfrost", language_code="ru",
                               auth_date=1662771648, start_param=None)


def test_signed_init_data_validates_with_user_fields_and_start_param() -> None:
    init_data = sign_init_data(USER, TOKEN, auth_date=NOW,
                               extra={"query_id": "AAH1", "start_param": "ref_ABC", "chat_type": "sender"})
    user = validate_init_data(init_data, TOKEN, max_age_s=3600, now=NOW + 10)
    assert user == MiniAppUser(id=424242, first_name="Анна", username="anna_k", language_code="ru",
                               auth_date=NOW, start_param="ref_ABC")


def test_signature_follows_the_documented_data_check_string() -> None:
    init_data = sign_init_data(USER, TOKEN, auth_date=NOW, extra={"start_param": "x y"})
    fields = dict(parse_qsl(init_data))
    received = fields.pop("hash")
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    assert received == hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    assert "%20" in init_data and "+" not in init_data  # spaces encoded as a browser client does


def test_forged_hash_is_bad_hash() -> None:
    init_data = _replace(sign_init_data(USER, TOKEN, auth_date=NOW), "hash", "0" * 64)
    assert _code(init_data) == "INITDATA_BAD_HASH"


def test_init_data_signed_with_another_bot_token_is_bad_hash() -> None:
    assert _code(sign_init_data(USER, "999:other-bot", auth_date=NOW)) == "INITDATA_BAD_HASH"


def test_tampered_user_id_is_bad_hash() -> None:
    init_data = sign_init_data(USER, TOKEN, auth_date=NOW)
    assert _code(_replace(init_data, "user", '{"id":1,"first_name":"Mallory"}')) == "INITDATA_BAD_HASH"


def test_refreshed_auth_date_without_resigning_is_bad_hash() -> None:
    init_data = sign_init_data(USER, TOKEN, auth_date=NOW - 86_400)
    assert _code(_replace(init_data, "auth_date", str(NOW))) == "INITDATA_BAD_HASH"


def test_added_field_is_bad_hash() -> None:
    assert _code(sign_init_data(USER, TOKEN, auth_date=NOW) + "&start_param=ref_EVIL") == "INITDATA_BAD_HASH"


def test_init_data_older_than_max_age_is_expired() -> None:
    init_data = sign_init_data(USER, TOKEN, auth_date=NOW)
    assert _code(init_data, max_age_s=3600, now=NOW + 3601) == "INITDATA_EXPIRED"
    assert validate_init_data(init_data, TOKEN, max_age_s=3600, now=NOW + 3600).id == USER["id"]


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_init_data_is_missing(raw: str) -> None:
    assert _code(raw) == "INITDATA_MISSING"


@pytest.mark.parametrize("raw", ["not a query string", "user=%7B%7D&auth_date=1", "a=1&a=2&hash=00",
                                 "x" * 9000 + "=1"])
def test_unparsable_or_hashless_init_data_is_malformed(raw: str) -> None:
    assert _code(raw) == "INITDATA_MALFORMED"


def test_correctly_signed_but_incomplete_init_data_is_malformed() -> None:
    no_user = sign_init_data(USER, TOKEN, auth_date=NOW)
    no_user = _resign(_drop(no_user, "user"))
    assert _code(no_user) == "INITDATA_MALFORMED"
    bad_user = _resign(_replace(sign_init_data(USER, TOKEN, auth_date=NOW), "user", '{"first_name":"No id"}'))
    assert _code(bad_user) == "INITDATA_MALFORMED"
    bad_date = _resign(_replace(sign_init_data(USER, TOKEN, auth_date=NOW), "auth_date", "yesterday"))
    assert _code(bad_date) == "INITDATA_MALFORMED"


def test_sign_refuses_an_explicit_hash_field() -> None:
    with pytest.raises(ValueError):
        sign_init_data(USER, TOKEN, auth_date=NOW, extra={"hash": "00"})


def _drop(init_data: str, key: str) -> str:
    return urlencode([(k, v) for k, v in parse_qsl(init_data) if k != key], quote_via=quote)


def _resign(init_data: str) -> str:
    """Re-sign altered fields with the right token, so only the field contents are wrong."""
    fields = {k: v for k, v in parse_qsl(init_data, keep_blank_values=True) if k != "hash"}
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)
