"""The T-Bank fake's bank: payments, their status machine, refunds, and the answers of Init/GetState/Cancel.

Pure state behind one lock; no Flask here (``sandbox.tbank.app`` adapts HTTP to these calls) and no sockets
(notifications are handed to ``sandbox.tbank.notifier``). Tokens are checked with the fake's own
implementation of the signing rule, so a bug in the client's signing cannot hide behind the same bug here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandbox.tbank.config import TBankFakeConfig
from sandbox.tbank.receipts import CashRegister, receipt_problem

if TYPE_CHECKING:
    from sandbox.tbank.notifier import Notifier

Answer = dict[str, Any]

# Statuses meaning "this order is paid": Init with the same OrderId is refused with 623.
PAID_STATUSES = frozenset({"AUTHORIZED", "CONFIRMED", "PARTIAL_REFUNDED", "REFUNDED"})
PAYABLE_STATUSES = frozenset({"NEW", "FORM_SHOWED"})
CHARGED_STATUSES = frozenset({"CONFIRMED", "PARTIAL_REFUNDED"})  # money taken and fiscalized
PAY_TYPES = (None, "O", "T")  # one-stage, two-stage; absent: the terminal's setting (knob two_stage)
# Statuses a notification reports as a failure (Success false).
FAILURE_STATUSES = frozenset({"REJECTED", "AUTH_FAIL", "DEADLINE_EXPIRED", "CANCELED"})
MIN_AMOUNT = 100  # kopecks
DECLINE_ERROR_CODE = "1051"  # insufficient funds, the ErrorCode of a declined card
MAX_RECORDS = 5000  # API requests kept for the state


def first_payment_id() -> int:
    """Ids start from the clock (milliseconds, 13 digits; the real ones are up to 20), so a restarted fake never
    hands out an id our database already holds from an earlier run."""
    return int(time.time() * 1000)


CARD = {"CardId": 322264, "Pan": "430000******0777", "ExpDate": "1230"}  # the sandbox's one test card


class Refusal(Exception):
    """An API call the bank refuses: answered with HTTP 200, ``Success: false`` and this ErrorCode."""

    def __init__(self, code: str, details: str, message: str = "Неверные параметры.") -> None:
        super().__init__(details)
        self.answer: Answer = {"Success": False, "ErrorCode": code, "Message": message, "Details": details}


def sandbox_token(params: Mapping[str, Any], password: str) -> str:
    """T-Bank's Token rule (docs/providers.md#token), written independently of ``gateways.tbank.make_token``."""
    pairs = [(k, v) for k, v in params.items()
             if k not in ("Token", "DATA", "Receipt") and v is not None and not isinstance(v, (dict, list))]
    pairs.append(("Password", password))
    text = ""
    for _, value in sorted(pairs, key=lambda kv: kv[0]):
        if value is True or value is False:
            text += "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            text += str(int(value))
        else:
            text += str(value)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Payment:
    payment_id: str
    order_id: str
    amount: int
    description: str
    notification_url: str
    success_url: str
    fail_url: str
    two_stage: bool
    data: dict[str, str] | None
    receipt: dict[str, Any] | None
    deadline_at: float
    page_base: str = ""
    status: str = "NEW"
    remaining: int = 0  # kopecks not yet refunded or reversed
    history: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)  # fiscal documents issued for it
    created_at: float = field(default_factory=time.time)

    def move(self, status: str) -> None:
        self.status = status
        self.history.append({"status": status, "at": round(time.time(), 3)})

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TBankBank:
    """All payments of the one sandbox terminal. Every public method is atomic under the bank's lock."""

    def __init__(self, config: TBankFakeConfig, notifier: Notifier) -> None:
        self.start_config = config
        self.config = config
        self._notifier = notifier
        self._lock = threading.RLock()
        self._ids = itertools.count(first_payment_id())  # never reset, so ids stay unique across resets
        self.payments: dict[str, Payment] = {}
        self.requests: list[dict[str, Any]] = []
        self.register = CashRegister()

    def reset(self) -> None:
        with self._lock:
            self.config = self.start_config
            self.register.reset()
            self.payments.clear()
            self.requests.clear()

    def configure(self, changes: Mapping[str, Any]) -> TBankFakeConfig:
        """Merge knobs into the running config; ValueError on an unknown knob or a bad value."""
        with self._lock:
            self.config = self.config.merged(changes)
            return self.config

    def record(self, method: str, body: object, answer: Answer) -> None:
        with self._lock:
            self.requests.append({"method": method, "at": round(time.time(), 3), "body": body, "answer": answer})
            del self.requests[:-MAX_RECORDS]

    def authenticate(self, body: object) -> dict[str, Any]:
        """The request body once TerminalKey and Token are checked; Refusal otherwise."""
        if not isinstance(body, dict) or not body:
            raise Refusal("203", "Параметры запроса не должны быть пустыми.")
        if not body.get("TerminalKey"):
            raise Refusal("201", "Поле TerminalKey не должно быть пустым.")
        if body["TerminalKey"] != self.config.terminal_key:
            raise Refusal("501", "Терминал не найден.")
        if body.get("Token") != sandbox_token(body, self.config.password):
            raise Refusal("204", "Неверный токен. Проверьте пару TerminalKey/SecretKey.")
        return body

    def init(self, body: dict[str, Any], page_base: str) -> Answer:
        cfg = self.config
        amount = _amount(body.get("Amount"))
        if amount < MIN_AMOUNT:
            raise Refusal("251", f"Неверная сумма. Сумма должна быть больше или равна {MIN_AMOUNT} копеек.")
        order_id = body.get("OrderId")
        if not isinstance(order_id, str) or not order_id:
            raise Refusal("201", "Поле OrderId не должно быть пустым.")
        if len(order_id) > 36:
            raise Refusal("212", "Размер поля OrderId должен быть от 1 до 36.")
        description = body.get("Description") or ""
        if not isinstance(description, str) or len(description) > 140:
            raise Refusal("213", "Размер поля Description должен быть от 0 до 140.")
        data = _data(body.get("DATA"))
        pay_type = body.get("PayType")
        if pay_type not in PAY_TYPES:
            raise Refusal("9999", "Неверные параметры. PayType: O (одностадийная) или T (двухстадийная).")
        receipt = body.get("Receipt")
        if receipt is None and cfg.cash_register:
            raise Refusal("309", "Для терминала с подключенной онлайн-кассой параметр Receipt обязателен.")
        if receipt is not None and (problem := receipt_problem(receipt, amount)):
            raise Refusal(*problem)
        deadline = time.time() + cfg.deadline_s
        if body.get("RedirectDueDate"):
            try:
                deadline = datetime.fromisoformat(str(body["RedirectDueDate"])).timestamp()
            except ValueError:
                raise Refusal("12", "Неверный параметр RedirectDueDate.") from None
        with self._lock:
            for other in self.payments.values():
                self._expire_if_due(other)
                if other.order_id == order_id and other.status in PAID_STATUSES:
                    raise Refusal("623", "Заказ уже оплачен.", "Оплата по заказу уже была проведена.")
            payment = Payment(payment_id=str(next(self._ids)), order_id=order_id, amount=amount,
                              description=description, notification_url=str(body.get("NotificationURL") or ""),
                              success_url=str(body.get("SuccessURL") or ""), fail_url=str(body.get("FailURL") or ""),
                              two_stage=pay_type == "T" or (pay_type is None and cfg.two_stage), data=data,
                              receipt=receipt, deadline_at=deadline, remaining=amount, page_base=page_base)
            payment.move("NEW")
            self.payments[payment.payment_id] = payment
        return {"Success": True, "ErrorCode": "0", "TerminalKey": cfg.terminal_key, "Status": "NEW",
                "PaymentId": payment.payment_id, "OrderId": order_id, "Amount": amount,
                "PaymentURL": f"{page_base.rstrip('/')}/pay/{payment.payment_id}"}

    def get_state(self, body: dict[str, Any]) -> Answer:
        with self._lock:
            payment = self.find(body.get("PaymentId"))
            return {"Success": True, "ErrorCode": "0", "Message": "OK", "TerminalKey": self.config.terminal_key,
                    "Status": payment.status, "PaymentId": payment.payment_id, "OrderId": payment.order_id,
                    "Amount": payment.amount}

    def confirm(self, body: dict[str, Any]) -> Answer:
        """Two-stage: charge the money an AUTHORIZED payment holds (the whole amount: partial Confirm is not
        modelled); CONFIRMED is notified, then the Income receipt when a cash register is connected."""
        with self._lock:
            payment = self.find(body.get("PaymentId"))
            if payment.status != "AUTHORIZED":
                raise Refusal("4", f"Не получится изменить статус платежа {payment.status}.")
            if body.get("Amount") not in (None, payment.amount):
                raise Refusal("9999", "Неверные параметры. Частичное подтверждение песочница не поддерживает.")
            payment.move("CONFIRMED")
            self._notify(payment, [("CONFIRMED", payment.amount)], False)
            self._fiscalize(payment, "Income", payment.amount, payment.receipt)
            return {"Success": True, "ErrorCode": "0", "TerminalKey": self.config.terminal_key,
                    "Status": "CONFIRMED", "PaymentId": payment.payment_id, "OrderId": payment.order_id}

    def cancel(self, body: dict[str, Any]) -> Answer:
        # No Amount means "everything that is left".
        amount = None if body.get("Amount") is None else _amount(body.get("Amount"))
        request_id = body.get("ExternalRequestId")
        with self._lock:
            payment = self.find(body.get("PaymentId"))
            for refund in payment.refunds:
                if request_id and refund["external_request_id"] == request_id:
                    return dict(refund["answer"])  # idempotent: the same id refunds once, answers the same
            receipt = self._refund_receipt(payment, body.get("Receipt"), amount)
            before = payment.remaining
            if payment.status in PAYABLE_STATUSES:
                if amount not in (None, payment.amount):
                    raise Refusal("4", "Частичная отмена неоплаченного платежа невозможна.")
                status, after = "CANCELED", 0
            elif payment.status in ("AUTHORIZED", "PARTIAL_REVERSED", "CONFIRMED", "PARTIAL_REFUNDED"):
                take = before if amount is None else amount
                if take > before:
                    raise Refusal("330", f"Сумма отмены больше доступной: осталось {before} копеек.")
                after = before - take
                reversal = payment.status in ("AUTHORIZED", "PARTIAL_REVERSED")
                status = ("PARTIAL_" if after else "") + ("REVERSED" if reversal else "REFUNDED")
            else:
                raise Refusal("4", f"Не получится изменить статус платежа {payment.status}.")
            payment.remaining = after
            payment.move(status)
            answer = {"Success": True, "ErrorCode": "0", "TerminalKey": self.config.terminal_key,
                      "Status": status, "PaymentId": payment.payment_id, "OrderId": payment.order_id,
                      "OriginalAmount": before, "NewAmount": after}
            if request_id:
                answer["ExternalRequestId"] = request_id
            payment.refunds.append({"external_request_id": request_id, "amount": before - after, "status": status,
                                    "at": round(time.time(), 3), "answer": answer})
            if status == "CANCELED":  # nothing was charged: the whole order is reported cancelled
                self._notify(payment, [(status, payment.amount)], False)
            else:
                self._notify(payment, [(status, before - after)], False)  # the amount of this refund
            if status.endswith("REFUNDED"):  # money returned: its own fiscal document, for that amount
                self._fiscalize(payment, "IncomeReturn", before - after, receipt or payment.receipt)
            return dict(answer)

    def _refund_receipt(self, payment: Payment, receipt: object, amount: int | None) -> dict[str, Any] | None:
        """The Receipt a Cancel of a charged payment carries, checked; with a cash register a refund of less than
        the whole payment must carry one for the refunded amount (the Init receipt covers only a whole refund)."""
        if payment.status not in CHARGED_STATUSES:
            return None
        take = payment.remaining if amount is None else amount
        if receipt is None:
            if self.config.cash_register and take != payment.amount:
                raise Refusal("309", "Для частичного возврата с онлайн-кассой нужен Receipt на возвращаемую сумму.")
            return None
        if problem := receipt_problem(receipt, take):
            raise Refusal(*problem)
        return dict(receipt)  # type: ignore[arg-type]  # receipt_problem checked it is a dict

    def pay(self, payment_id: str, outcome: str) -> Payment:
        """Complete the payment page: ``success``, ``decline`` or ``abandon``; KeyError / LookupError if not payable."""
        with self._lock:
            payment = self.find(payment_id)
            if outcome == "abandon":
                return payment
            if payment.status not in PAYABLE_STATUSES:
                raise LookupError(f"payment is {payment.status}")
            if outcome == "decline":
                payment.move("REJECTED")
                self._notify(payment, [("REJECTED", payment.amount)], False)
            elif payment.two_stage:
                payment.move("AUTHORIZED")
                self._notify(payment, [("AUTHORIZED", payment.amount)], False)
            else:
                payment.move("AUTHORIZED")
                payment.move("CONFIRMED")
                # One-stage: both are sent at the same moment, in either order (or CONFIRMED first by knob).
                self._notify(payment, [("AUTHORIZED", payment.amount), ("CONFIRMED", payment.amount)], True)
                self._fiscalize(payment, "Income", payment.amount, payment.receipt)
            return payment

    def show_form(self, payment_id: str) -> Payment:
        with self._lock:
            payment = self.find(payment_id)
            if payment.status == "NEW":
                payment.move("FORM_SHOWED")
            return payment

    def renotify(self, payment_id: str, status: str, times: int) -> None:
        """Send a notification of any ``status`` for this payment ``times`` times; its record is not changed."""
        with self._lock:
            payment = self.find(payment_id)
            self._notify(payment, [(status, payment.amount)], False, copies=times)

    def _fiscalize(self, payment: Payment, kind: str, amount: int, receipt: dict[str, Any] | None) -> None:
        """With a cash register connected: issue the fiscal document and report it (Status RECEIPT, Amount of
        this document) after the payment's own notifications."""
        if not self.config.cash_register:
            return
        document = self.register.issue(payment_id=payment.payment_id, kind=kind, amount=amount, receipt=receipt,
                                       page_base=payment.page_base)
        payment.receipts.append({"Amount": amount, **document})
        self._notify(payment, [("RECEIPT", amount)], False, fields=document)

    def _notify(self, payment: Payment, events: list[tuple[str, int]], concurrent: bool,
                copies: int | None = None, fields: Mapping[str, Any] | None = None) -> None:
        if not payment.notification_url:
            return
        cfg = self.config
        payloads = []
        for status, amount in events:
            payload: dict[str, Any] = {
                "TerminalKey": cfg.terminal_key, "OrderId": payment.order_id,
                "Success": status not in FAILURE_STATUSES, "Status": status,
                "PaymentId": int(payment.payment_id),  # a number here, unlike the API answers
                "ErrorCode": DECLINE_ERROR_CODE if status in ("REJECTED", "AUTH_FAIL") else "0",
                "Amount": amount}
            if fields:  # a fiscal document's fields instead of the card's
                payload.update(fields)
            else:
                payload.update({"CardId": CARD["CardId"], "Pan": CARD["Pan"], "ExpDate": CARD["ExpDate"]})
            if payment.data and not fields:
                payload["DATA"] = dict(payment.data)
            payload["Token"] = sandbox_token(payload, cfg.password)
            payloads.append(payload)
        self._notifier.deliver(payment.notification_url, payloads, cfg, concurrent=concurrent, copies=copies)

    def find(self, raw_id: object) -> Payment:
        """The payment with this PaymentId (number or digit string), its deadline applied; Refusal otherwise."""
        if raw_id is None or raw_id == "":
            raise Refusal("201", "Поле PaymentId не должно быть пустым.")
        key = str(raw_id)
        if isinstance(raw_id, bool) or not key.isdigit():
            raise Refusal("217", "Поле PaymentId числовое значение должно укладываться в формат.")
        with self._lock:
            payment = self.payments.get(key)
            if payment is None:
                raise Refusal("255", "Платеж не найден.", "Платеж не найден.")
            self._expire_if_due(payment)
            return payment

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            for payment in self.payments.values():
                self._expire_if_due(payment)
            return {"config": self.config.public_view(), "payments": [p.as_json() for p in self.payments.values()],
                    "requests": list(self.requests)}

    @staticmethod
    def _expire_if_due(payment: Payment) -> None:
        # Lazily, on every look: an abandoned link dies at its deadline, and nobody is notified (as in life).
        if payment.status in PAYABLE_STATUSES and time.time() >= payment.deadline_at:
            payment.move("DEADLINE_EXPIRED")


def _amount(value: object) -> int:
    if value is None:
        raise Refusal("201", "Поле Amount не должно быть пустым.")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Refusal("251", "Неверная сумма. Сумма должна быть целым положительным числом копеек.")
    return value


def _data(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 20:
        raise Refusal("207", "Параметр DATA превышает максимально допустимый размер.")
    for key, item in value.items():
        if len(key) > 20:
            raise Refusal("208", "Наименование ключа из параметра DATA превышает максимально допустимый размер.")
        if not isinstance(item, str) or len(item) > 100:
            raise Refusal("209", "Значение ключа из параметра DATA превышает максимально допустимый размер.")
    return dict(value)

