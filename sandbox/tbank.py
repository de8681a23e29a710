"""The T-Bank fake: Internet Acquiring v2 on loopback, with a payment page and signed notifications.

Serve ``create_app(config)`` and point the gateway at ``<url>/v2``. Wire behaviour (docs/providers.md#t-bank):
``POST /v2/Init | /v2/GetState | /v2/Cancel`` answer HTTP 200 with ``Success`` / ``ErrorCode`` (``"0"`` ok;
``"204"`` wrong Token, ``"501"`` unknown TerminalKey, ``"623"`` OrderId already paid, ``"251"`` bad Amount,
``"212"/"213"/"207"-"209"`` sizes of OrderId/Description/DATA, ``"255"`` unknown PaymentId, ``"330"`` refund
larger than what is left, ``"4"`` status does not allow it). ``PaymentId`` is a string in answers and a
number in notifications, as in life. Cancel: NEW/FORM_SHOWED → CANCELED (not notified); AUTHORIZED →
PARTIAL_REVERSED / REVERSED; CONFIRMED → PARTIAL_REFUNDED / REFUNDED, never beyond what is left; the same
``ExternalRequestId`` twice refunds once and answers the same.

Payment page: ``GET /pay/<PaymentId>`` (NEW → FORM_SHOWED) shows Pay / Decline; scripted completion is
``POST /pay/<PaymentId>`` with form or JSON ``{"outcome": "success" | "decline" | "abandon"}``: success →
AUTHORIZED + CONFIRMED, notified concurrently in random order (two-stage: AUTHORIZED only); decline → REJECTED;
abandon → nothing, until the deadline turns it into DEADLINE_EXPIRED (not notified).

Control API: ``GET /_sandbox/state`` (config without password, payments with status history and refunds,
notifications with every attempt and answer, API requests with answers); ``POST /_sandbox/config`` (merge
knobs); ``POST /_sandbox/reset`` (forget everything, stop pending re-sends, knobs back to the start config;
PaymentIds keep counting up); ``POST /_sandbox/payments/<PaymentId>/notify`` ``{"status": "...", "times": n}``
(re-send any status, record untouched); ``POST /_sandbox/fail`` ``{"method": "Init" | "GetState" | "Cancel" |
"*", "times": 1, "error_code": "9999", "http_status": 200}`` (the next calls fail: with that ErrorCode, or with
a non-JSON body under a non-200 HTTP status).

Knobs (``SANDBOX_TBANK_<NAME>`` in the environment, or JSON to /_sandbox/config):
terminal_key, password (default: the Settings defaults "SandboxTerminal" / "sandbox-terminal-password");
public_url (base of PaymentURL; default: the URL the request came to); min_amount (kopecks, 100);
two_stage (false); deadline_s (link life, 86400; RedirectDueDate wins when given); decline_error_code ("1051");
latency_ms (0, added to every API call); notify_retry_interval_s (0.5); notify_max_attempts (8);
notify_duplicates (1: copies of each notification); notify_confirmed_first (false: CONFIRMED is delivered
before AUTHORIZED); notify_delay_ms (0, before the first attempt); notify_timeout_s (5);
notify_refund_amount ("refund": a refund notification's Amount is the amount of that refund; "original": the
payment's amount); notify_seed (0 = random order; otherwise a reproducible order); max_records (5000).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from typing import Any

import flask
from flask.typing import ResponseReturnValue
from markupsafe import escape

from sandbox.tbank_core import Refusal, TBankBank, TBankFakeConfig
from sandbox.tbank_notifier import Notifier

ENV_PREFIX = "SANDBOX_TBANK_"
METHODS = ("Init", "GetState", "Cancel")
OUTCOMES = ("success", "decline", "abandon")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class TBankFake:
    """The fake's state (``app.extensions["fake"]``): the bank, the notifier and injected failures."""

    def __init__(self, config: TBankFakeConfig) -> None:
        self.notifier = Notifier()
        self.bank = TBankBank(config, self.notifier)
        self._lock = threading.Lock()
        self.failures: list[dict[str, Any]] = []

    @property
    def config(self) -> TBankFakeConfig:
        return self.bank.config

    def configure(self, knobs: Mapping[str, object]) -> TBankFakeConfig:
        """Merge ``knobs`` into the running config; ValueError on an unknown knob or a bad value."""
        self.bank.configure(**_coerce_all(knobs))
        return self.bank.config

    def reset(self) -> None:
        self.notifier.reset()
        self.bank.reset()
        with self._lock:
            self.failures.clear()

    def add_failure(self, rule: Mapping[str, object]) -> dict[str, Any]:
        """Make the next ``times`` calls of ``method`` fail (see the module docstring); ValueError on a bad rule."""
        method, times = rule.get("method", "*"), rule.get("times", 1)
        code, http_status = rule.get("error_code", "9999"), rule.get("http_status", 200)
        if method != "*" and method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} or '*'")
        if not isinstance(times, int) or times < 1 or not isinstance(http_status, int) or not isinstance(code, str):
            raise ValueError("times and http_status must be integers, error_code a string")
        failure = {"method": method, "times": times, "error_code": code, "http_status": http_status}
        with self._lock:
            self.failures.append(failure)
        return failure

    def take_failure(self, method: str) -> dict[str, Any] | None:
        with self._lock:
            for failure in self.failures:
                if failure["method"] in ("*", method) and failure["times"] > 0:
                    failure["times"] -= 1
                    return dict(failure)
        return None

    def state(self) -> dict[str, Any]:
        state = self.bank.snapshot()
        state["notifications"] = self.notifier.snapshot()
        with self._lock:
            state["failures"] = [dict(f) for f in self.failures if f["times"] > 0]
        return state


def config_from_env(environ: Mapping[str, str]) -> TBankFakeConfig:
    """The fake's start config from ``SANDBOX_TBANK_*`` variables; ValueError names a malformed one."""
    knobs = {}
    for f in dataclasses.fields(TBankFakeConfig):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            knobs[f.name] = raw
    try:
        return TBankFakeConfig(**_coerce_all(knobs))
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}*: {exc}") from None


def _coerce_all(knobs: Mapping[str, object]) -> dict[str, Any]:
    kinds = {f.name: str(f.type) for f in dataclasses.fields(TBankFakeConfig)}
    unknown = sorted(set(knobs) - set(kinds))
    if unknown:
        raise ValueError(f"unknown knobs: {', '.join(unknown)}")
    return {name: _coerce(name, kinds[name], value) for name, value in knobs.items()}


def _coerce(name: str, kind: str, value: object) -> object:
    text = value.strip().lower() if isinstance(value, str) else None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
    elif kind in ("int", "float") and not isinstance(value, bool) and isinstance(value, (int, float, str)):
        try:
            number = float(value)
            if kind == "float":
                return number
            if number.is_integer():
                return int(number)
        except ValueError:
            pass
    elif kind == "str" and isinstance(value, str):
        return value
    raise ValueError(f"{name} must be {kind}")


def create_app(config: TBankFakeConfig | None = None) -> flask.Flask:
    """The fake as a WSGI app; its state is ``app.extensions["fake"]`` (a ``TBankFake``)."""
    app = flask.Flask("sandbox.tbank")
    fake = TBankFake(config or TBankFakeConfig())
    app.extensions["fake"] = fake

    @app.post("/v2/<method>")
    def api(method: str) -> ResponseReturnValue:
        if method not in METHODS:
            return flask.jsonify({"Success": False, "ErrorCode": "9999", "Message": "Unknown method."}), 404
        if fake.config.latency_ms:
            time.sleep(fake.config.latency_ms / 1000)
        body = flask.request.get_json(silent=True)
        failure = fake.take_failure(method)
        if failure and failure["http_status"] != 200:
            fake.bank.record(method, body, {"http_status": failure["http_status"], "injected": True})
            return flask.Response("<html><body>Service Unavailable</body></html>", failure["http_status"],
                                  mimetype="text/html")
        try:
            if failure:
                raise Refusal(failure["error_code"], "Injected failure.", "Попробуйте повторить попытку позже.")
            request = fake.bank.authenticate(body)
            if method == "Init":
                answer = fake.bank.init(request, flask.request.host_url)
            elif method == "GetState":
                answer = fake.bank.get_state(request)
            else:
                answer = fake.bank.cancel(request)
        except Refusal as refusal:
            answer = refusal.answer
        fake.bank.record(method, body, answer)
        return flask.jsonify(answer)

    @app.get("/pay/<payment_id>")
    def payment_page(payment_id: str) -> ResponseReturnValue:
        try:
            payment = fake.bank.show_form(payment_id)
        except Refusal:
            return "<h1>Платёж не найден</h1>", 404
        buttons = ""
        if payment.status in ("NEW", "FORM_SHOWED"):
            buttons = ('<form method="post"><button name="outcome" value="success">Pay</button> '
                       '<button name="outcome" value="decline">Decline</button></form>')
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>T-Bank sandbox</title></head><body>"
                f"<h1>{escape(payment.description) or 'Оплата'}</h1><p>Заказ {escape(payment.order_id)}: "
                f"{payment.amount / 100:.2f} ₽</p><p>Статус: <b>{payment.status}</b></p>{buttons}</body></html>")

    @app.post("/pay/<payment_id>")
    def complete_payment(payment_id: str) -> ResponseReturnValue:
        source = flask.request.get_json(silent=True) if flask.request.is_json else flask.request.form
        outcome = (source or {}).get("outcome")
        if outcome not in OUTCOMES:
            return flask.jsonify({"error": f"outcome must be one of {OUTCOMES}"}), 400
        try:
            payment = fake.bank.pay(payment_id, outcome)
        except Refusal:
            return flask.jsonify({"error": "unknown payment"}), 404
        except LookupError as exc:
            return flask.jsonify({"error": str(exc)}), 409
        if flask.request.is_json:
            return flask.jsonify({"PaymentId": payment.payment_id, "OrderId": payment.order_id,
                                  "Status": payment.status})
        target = payment.success_url if payment.status in ("AUTHORIZED", "CONFIRMED") else payment.fail_url
        if target and outcome != "abandon":
            return flask.redirect(target, 303)
        return f"<!doctype html><p>Статус: <b>{payment.status}</b></p>"

    @app.get("/_sandbox/state")
    def state() -> ResponseReturnValue:
        return flask.jsonify(fake.state())

    @app.post("/_sandbox/config")
    def configure() -> ResponseReturnValue:
        knobs = flask.request.get_json(silent=True)
        if not isinstance(knobs, dict):
            return flask.jsonify({"error": "send a JSON object of knobs"}), 400
        try:
            config = fake.configure(knobs)
        except (TypeError, ValueError) as exc:
            return flask.jsonify({"error": str(exc)}), 400
        return flask.jsonify({"config": {k: v for k, v in dataclasses.asdict(config).items() if k != "password"}})

    @app.post("/_sandbox/reset")
    def reset() -> ResponseReturnValue:
        fake.reset()
        return flask.jsonify({"reset": True})

    @app.post("/_sandbox/payments/<payment_id>/notify")
    def renotify(payment_id: str) -> ResponseReturnValue:
        order = flask.request.get_json(silent=True) or {}
        status, times = order.get("status"), order.get("times", 1)
        if not isinstance(status, str) or not status or not isinstance(times, int) or not 0 < times <= 100:
            return flask.jsonify({"error": "need {'status': str, 'times': 1..100}"}), 400
        try:
            fake.bank.renotify(payment_id, status, times)
        except Refusal:
            return flask.jsonify({"error": "unknown payment"}), 404
        return flask.jsonify({"queued": times, "status": status}), 202

    @app.post("/_sandbox/fail")
    def fail() -> ResponseReturnValue:
        rule = flask.request.get_json(silent=True)
        if not isinstance(rule, dict):
            return flask.jsonify({"error": "send a JSON object"}), 400
        try:
            return flask.jsonify(fake.add_failure(rule))
        except (TypeError, ValueError) as exc:
            return flask.jsonify({"error": str(exc)}), 400

    return app
