"""Property-based: every webhook and the API's routes, fed malformed input — bad UTF-8 and odd characters in the
query string and headers, huge numbers, wrong JSON types, missing fields, bodies that are not JSON, huge headers
— never answer 5xx (issue 10, item 5). Webhook bodies are sometimes correctly authenticated (T-Bank Token over the
fuzzed fields, Telegram's secret header, our signed Kie URL), so the checks behind authentication are fuzzed too.
The API's documented operations with a valid user are fuzzed by test_openapi_fuzz.py."""

from __future__ import annotations

import json
import zlib
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateways.tbank import make_token
from rules.signing import sign
from runtime.limits import ApiLimit
from tests.conftest import tma_header

HUGE = st.sampled_from([2**63, -(2**63) - 1, 10**30, 1e308, float("inf"), -0.0])
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), HUGE, st.floats(allow_nan=False), st.text(max_size=40),
                   st.sampled_from(["", "\x00", "\ud800", "é", "٣", "1e9", "-1", "CONFIRMED", "OK"]))
JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                    max_leaves=12)
RAW = st.one_of(st.binary(max_size=200), st.sampled_from([b"\xff\xfe", b"{", b"[" * 500, b"null", b"\xc3("]))
QUERY_BYTES = st.binary(max_size=40).map(lambda b: quote_from_bytes(b, safe=""))
HEADER_VALUE = st.one_of(st.binary(max_size=60).map(lambda b: b.decode("latin-1")), st.text(max_size=60),
                         st.integers(1, 8000).map(lambda n: "A" * n))

TBANK_FIELDS = {"TerminalKey": st.one_of(st.just("SandboxTerminal"), SCALAR), "OrderId": SCALAR, "Success": SCALAR,
                "Status": SCALAR, "PaymentId": SCALAR, "ErrorCode": SCALAR, "Amount": SCALAR, "Pan": SCALAR}
TELEGRAM_UPDATE = st.fixed_dictionaries({}, optional={
    "update_id": st.one_of(st.integers(), HUGE, SCALAR),
    "message": st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "message_id": SCALAR, "chat": JSON, "from": JSON, "text": SCALAR, "media_group_id": JSON, "photo": JSON})),
    "my_chat_member": JSON, "callback_query": JSON})

API_ROUTES = [("GET", "/api/v1/catalog"), ("GET", "/api/v1/me"), ("POST", "/api/v1/payments"),
              ("POST", "/api/v1/generations"), ("POST", "/api/v1/avatars"), ("GET", "/api/v1/orders"),
              ("GET", "/api/v1/home"),
              ("GET", "/api/v1/generations/{id}"), ("POST", "/api/v1/photos/{id}/regenerate"),
              ("POST", "/api/v1/avatars/{id}/references"), ("DELETE", "/api/v1/avatars/{id}"),
              ("GET", "/download/{id}.zip"), ("GET", "/g/{id}")]
FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def call(client, method: str, path: str, query: str, body: bytes | None, headers: dict[str, str]) -> int:
    environ = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()
               if name.lower() != "content-type"}
    if "Content-Type" in headers:
        environ["CONTENT_TYPE"] = headers["Content-Type"]
    response = client.open(path, method=method, data=body, environ_overrides={"QUERY_STRING": query, **environ})
    return response.status_code


def body_of(value: Any, raw: bytes | None) -> bytes:
    """``raw`` if given, else ``value`` as JSON: with ``\\u`` escapes (a lone surrogate survives parsing) or as
    UTF-8 (where a lone surrogate becomes bytes that are not UTF-8), chosen by the value's hash."""
    if raw is not None:
        return raw
    escaped = zlib.crc32(repr(value).encode("utf-8", "surrogatepass")) % 2 == 0
    return json.dumps(value, ensure_ascii=escaped).encode("utf-8", "surrogatepass")


@FUZZ
@example(fields={}, extra={}, signed=False, token="", content_type="application/json",
         raw=b'{"TerminalKey": "SandboxTerminal", "OrderId": "\\ud800", "Token": "ab"}')
@given(fields=st.fixed_dictionaries({}, optional=TBANK_FIELDS), extra=st.dictionaries(st.text(max_size=8), JSON,
       max_size=3), signed=st.booleans(), token=st.one_of(SCALAR, st.just("é" * 64)), raw=st.one_of(st.none(), RAW),
       content_type=st.sampled_from(["application/json", "text/plain", "application/json; charset=latin-1", ""]))
def test_tbank_notifications_never_answer_5xx(client, settings, fields, extra, signed, token, raw, content_type):
    body = {**extra, **fields}
    if signed:
        try:
            body["Token"] = make_token(body, settings.tbank_password)
        except UnicodeEncodeError:
            body["Token"] = token
    else:
        body["Token"] = token
    assert call(client, "POST", "/webhooks/tbank", "", body_of(body, raw), {"Content-Type": content_type}) < 500


@FUZZ
@example(task="1", sig="%C3%A9", signed=False, body=None, raw=b"{}", headers={})
@given(task=st.one_of(QUERY_BYTES, st.integers(-10, 10**30).map(str)), sig=QUERY_BYTES, signed=st.booleans(),
       body=JSON, raw=st.one_of(st.none(), RAW),
       headers=st.dictionaries(st.sampled_from(["X-Webhook-Signature", "X-Webhook-Timestamp", "Content-Type"]),
                               HEADER_VALUE, max_size=3))
def test_kie_callbacks_never_answer_5xx(client, settings, task, sig, signed, body, raw, headers):
    if signed and task.isascii() and task.isdigit():
        sig = sign(settings.callback_signing_key, "kie-callback", task)
    status = call(client, "POST", "/webhooks/kie", f"task={task}&sig={sig}", body_of(body, raw), headers)
    assert status < 500


@FUZZ
@given(update=TELEGRAM_UPDATE, raw=st.one_of(st.none(), RAW), right_secret=st.booleans(), secret=HEADER_VALUE,
       content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_telegram_updates_never_answer_5xx(client, settings, update, raw, right_secret, secret, content_type):
    headers = {"X-Telegram-Bot-Api-Secret-Token": settings.telegram_webhook_secret if right_secret else secret,
               "Content-Type": content_type}
    assert call(client, "POST", "/webhooks/telegram", "", body_of(update, raw), headers) < 500


@FUZZ
@given(route=st.sampled_from(API_ROUTES), ident=st.one_of(st.integers(), HUGE.map(str), st.text(max_size=12)),
       query=QUERY_BYTES, body=JSON, raw=st.one_of(st.none(), RAW), valid_user=st.booleans(),
       authorization=HEADER_VALUE, content_type=st.sampled_from(["application/json", "multipart/form-data", "x/y", ""]))
def test_api_routes_with_malformed_input_never_answer_5xx(app, client, settings, route, ident, query, body, raw,
                                                           valid_user, authorization, content_type):
    app.config["API_RATE_LIMIT"] = ApiLimit(rate_per_s=100_000, burst=100_000)
    method, template = route
    path = template.replace("{id}", quote_from_bytes(str(ident).encode("utf-8", "surrogatepass"), safe=""))
    headers = {"Authorization": tma_header(settings, 7_000_001)["Authorization"] if valid_user
               else authorization, "Content-Type": content_type}
    assert call(client, method, path, query, body_of(body, raw), headers) < 500
