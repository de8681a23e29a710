"""The T-Bank fake: Internet Acquiring v2 on loopback, with a payment page and signed notifications.

Serve ``create_app(config)`` and point the gateway at ``<url>/v2``. Wire behaviour (docs/providers.md#t-bank): ``POST
/v2/Init | /v2/GetState | /v2/Confirm | /v2/Cancel`` answer HTTP 200 with ``Success`` / ``ErrorCode`` (``"0"`` ok;
``"204"`` wrong Token, ``"501"`` unknown TerminalKey, ``"623"`` OrderId already paid, ``"251"`` bad Amount,
``"212"/"213"/"207"-"209"`` sizes of OrderId/Description/DATA, ``"255"`` unknown PaymentId, ``"330"`` refund larger
than what is left, ``"4"`` status does not allow it, ``"9999"`` invalid parameters such as a ``PayType`` other than
O/T, ``"309"`` / ``"308"`` a missing or invalid Receipt / items not summing to the amount). ``PaymentId`` is a string
in answers and a number in notifications, as in life. Cancel: NEW/FORM_SHOWED → CANCELED (notified, with the order's
Amount); AUTHORIZED → PARTIAL_REVERSED / REVERSED; CONFIRMED → PARTIAL_REFUNDED / REFUNDED, never beyond what is
left; the same ``ExternalRequestId`` twice refunds once and answers the same.

Payment page: ``GET /pay/<PaymentId>`` (NEW → FORM_SHOWED) shows Pay / Decline; scripted completion is ``POST
/pay/<PaymentId>`` with form or JSON ``{"outcome": "success" | "decline" | "abandon"}``: success → AUTHORIZED +
CONFIRMED, notified concurrently in random order (two-stage — ``PayType`` "T", or none on a terminal with the knob
``two_stage`` — AUTHORIZED only, until ``Confirm``; ``PayType`` "O" always confirms); decline → REJECTED; abandon →
nothing, until the deadline turns it into DEADLINE_EXPIRED (not notified).

Control: the shared ``/_sandbox/`` API (``sandbox.control``); the state has payments with status history and refunds,
notifications with every attempt and answer, and API requests with answers; reset also stops pending re-sends
(PaymentIds keep counting up). Fault rules: ``method`` is ``Init``, ``GetState``, ``Confirm`` or ``Cancel``;
``match`` looks in the request's JSON; the call fails with ``error_code`` (default ``"9999"``) in HTTP 200, or,
with another ``http_status``, with ``body`` (default: an HTML error page). ``method`` ``Notify`` drops
notification attempts instead (``match`` looks in the notification's JSON, e.g. ``"PaymentId": "7"``; each
dropped attempt spends one of ``times``): the bank tried, nothing reached the fleet. Also ``POST
/_sandbox/payments/<PaymentId>/notify`` ``{"status": "...", "times": n}`` re-sends any status (record untouched).

Cash register (knob ``cash_register``, ``sandbox.tbank.receipts``): Init without a ``Receipt`` is refused with 309, a
Receipt whose items do not sum to the amount with 308, a Cancel returning less than the whole payment without a
Receipt for the refunded amount with 309; after a payment is confirmed and after each refund a ``Status: "RECEIPT"``
notification reports the fiscal document (``Type`` Income / IncomeReturn, ``Amount`` of that document, ``ReceiptUrl``
→ ``GET /receipt/<n>``, ``FiscalNumber``, ...), signed like every notification.

Knobs (``SANDBOX_TBANK_<NAME>`` in the environment, or JSON to /_sandbox/config): terminal_key, password (default:
the Settings defaults "SandboxTerminal" / "sandbox-terminal-password"); two_stage (false: the terminal's default when
Init has no PayType); cash_register (false); deadline_s (link life, 86400; RedirectDueDate wins when given);
notify_retry_interval_s (0.5); notify_max_attempts (8); notify_duplicates (1: copies of each notification);
notify_confirmed_first (false: CONFIRMED is delivered before AUTHORIZED); notify_timeout_s (5); notify_seed (0 =
random order; otherwise a reproducible order). Fixed: Amount at least 100 kopecks, a decline's ErrorCode "1051", a
refund notification's Amount is that refund's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import flask
from flask.typing import ResponseReturnValue
from markupsafe import escape

from sandbox.control import FaultRules, mount_control
from sandbox.tbank.bank import Refusal, TBankBank
from sandbox.tbank.config import TBankFakeConfig
from sandbox.tbank.notifier import Notifier

METHODS = ("Init", "GetState", "Confirm", "Cancel")  # the API
FAULT_STEPS = (*METHODS, "Notify")  # fault rules also drop notifications
OUTCOMES = ("success", "decline", "abandon")
_ERROR_PAGE = "<html><body>Service Unavailable</body></html>"


class TBankFake:
    """The fake's state (``app.extensions["fake"]``): the bank, the notifier and the fault rules."""

    def __init__(self, config: TBankFakeConfig) -> None:
        self.faults = FaultRules(FAULT_STEPS)
        self.notifier = Notifier(
            drop=lambda payload: self.faults.take("Notify", json.dumps(payload, ensure_ascii=False),
                                                  any_method=False) is not None)
        self.bank = TBankBank(config, self.notifier)

    @property
    def config(self) -> TBankFakeConfig:
        return self.bank.config

    def configure(self, changes: Mapping[str, object]) -> TBankFakeConfig:
        return self.bank.configure(changes)

    def reset(self) -> None:
        self.notifier.reset()
        self.bank.reset()

    def snapshot(self) -> dict[str, Any]:
        state = self.bank.snapshot()
        state["notifications"] = self.notifier.snapshot()
        return state

    state = snapshot  # what GET /_sandbox/state shows, less the fault rules


def create_app(config: TBankFakeConfig | None = None) -> flask.Flask:
    """The fake as a WSGI app; its state is ``app.extensions["fake"]`` (a ``TBankFake``)."""
    app = flask.Flask("sandbox.tbank")
    fake = TBankFake(config or TBankFakeConfig())
    app.extensions["fake"] = fake

    @app.post("/v2/<method>")
    def api(method: str) -> ResponseReturnValue:
        if method not in METHODS:
            return flask.jsonify({"Success": False, "ErrorCode": "9999", "Message": "Unknown method."}), 404
        body = flask.request.get_json(silent=True)
        failure = fake.faults.take(method, flask.request.get_data(as_text=True))
        if failure and failure.http_status not in (None, 200):
            fake.bank.record(method, body, {"http_status": failure.http_status, "injected": True})
            return flask.Response(failure.body or _ERROR_PAGE, failure.http_status, mimetype="text/html")
        try:
            if failure:
                code = "9999" if failure.error_code is None else str(failure.error_code)
                raise Refusal(code, "Injected failure.", "Попробуйте повторить попытку позже.")
            request = fake.bank.authenticate(body)
            if method == "Init":
                answer = fake.bank.init(request, flask.request.host_url)
            elif method == "GetState":
                answer = fake.bank.get_state(request)
            elif method == "Confirm":
                answer = fake.bank.confirm(request)
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

    @app.get("/receipt/<number>")
    def receipt_page(number: str) -> ResponseReturnValue:
        document = fake.bank.register.documents.get(number)
        if document is None:
            return "<h1>Чек не найден</h1>", 404
        kind = "Возврат прихода" if document["Type"] == "IncomeReturn" else "Приход"
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>Чек {escape(number)}</title></head><body>"
                f"<h1>Кассовый чек: {kind}</h1><p>ФД {escape(number)}, ФН {escape(document['FnNumber'])}</p>"
                f"<p>Сумма: {document['amount'] / 100:.2f} ₽</p></body></html>")

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

    mount_control(app, fake)
    return app
