"""The T-Bank fake's online cash register (54-FZ): what a valid ``Receipt`` is, and the fiscal documents it
issues after a payment is confirmed (``Income``) and after each refund (``IncomeReturn``).

A terminal with a cash register connected (knob ``cash_register``) needs a ``Receipt`` on Init (ErrorCode 309
without one) and on every Cancel that returns less than the whole payment; the items of a receipt must sum to
the amount it is for (308). Each fiscal document is reported to the NotificationURL as a ``Status: "RECEIPT"``
notification carrying the amount of that document, and can be looked at under its ``ReceiptUrl``.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

TAXATIONS = frozenset({"osn", "usn_income", "usn_income_outcome", "esn", "patent"})
TAXES = frozenset({"none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat105", "vat107", "vat110", "vat120"})
PAYMENT_METHODS = frozenset({"full_prepayment", "prepayment", "advance", "full_payment", "partial_payment",
                             "credit", "credit_payment"})
PAYMENT_OBJECTS = frozenset({"commodity", "excise", "job", "service", "gambling_bet", "gambling_prize", "lottery",
                             "lottery_prize", "intellectual_activity", "payment", "agent_commission", "composite",
                             "another"})
NAME_MAX = 128
FN_NUMBER = "9999078900012345"  # the sandbox register's fiscal drive


def receipt_problem(value: object, amount: int) -> tuple[str, str] | None:
    """Why ``value`` is not a valid Receipt for ``amount`` kopecks, as (ErrorCode, details); None when it is."""
    if not isinstance(value, dict):
        return "309", "Поле Receipt должно быть объектом."
    if not (value.get("Email") or value.get("Phone")):
        return "309", "В чеке должен быть указан Email или Phone."
    if value.get("Taxation") not in TAXATIONS:
        return "309", "Неверное значение Receipt.Taxation."
    items = value.get("Items")
    if not isinstance(items, list) or not items:
        return "309", "Поле Receipt.Items не должно быть пустым."
    total = 0
    for index, item in enumerate(items):
        problem = _item_problem(item)
        if problem:
            return "309", f"Receipt.Items[{index}]: {problem}"
        total += item["Amount"]
    if total != amount:
        return "308", f"Сумма всех позиций в чеке ({total}) должна равняться сумме операции ({amount})."
    return None


def _item_problem(item: object) -> str | None:
    if not isinstance(item, dict):
        return "позиция должна быть объектом."
    name = item.get("Name")
    if not isinstance(name, str) or not 0 < len(name) <= NAME_MAX:
        return f"Name от 1 до {NAME_MAX} символов."
    numbers = [item.get(key) for key in ("Price", "Quantity", "Amount")]
    if any(not isinstance(n, (int, float)) or isinstance(n, bool) or n <= 0 for n in numbers):
        return "Price, Quantity и Amount должны быть положительными числами."
    price, quantity, total = numbers
    if not isinstance(price, int) or not isinstance(total, int) or round(price * quantity) != total:
        return "Amount должен равняться Price × Quantity (в копейках)."
    if item.get("Tax") not in TAXES:
        return "неверное значение Tax."
    if item.get("PaymentMethod", "full_payment") not in PAYMENT_METHODS:
        return "неверное значение PaymentMethod."
    if item.get("PaymentObject", "commodity") not in PAYMENT_OBJECTS:
        return "неверное значение PaymentObject."
    return None


class CashRegister:
    """Issues numbered fiscal documents and keeps them for ``ReceiptUrl`` (until reset)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self.documents: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        with self._lock:
            self.documents.clear()

    def issue(self, *, payment_id: str, kind: str, amount: int, receipt: dict[str, Any] | None,
              page_base: str) -> dict[str, Any]:
        """A fiscal document of ``kind`` (``Income`` / ``IncomeReturn``) for ``amount`` kopecks: the fields its
        RECEIPT notification carries beside the common ones."""
        with self._lock:
            number = next(self._numbers)
            fields: dict[str, Any] = {
                "Type": kind, "FiscalNumber": number, "ShiftNumber": 1, "ReceiptNumber": number,
                "FiscalDocumentNumber": number, "FiscalDocumentAttribute": 1_000_000_000 + number,
                "FnNumber": FN_NUMBER, "EcrRegNumber": "0000000001000001",
                "ReceiptDatetime": time.strftime("%Y-%m-%dT%H:%M:%S+03:00", time.gmtime(time.time() + 3 * 3600)),
                "ReceiptUrl": f"{page_base.rstrip('/')}/receipt/{number}"}
            if receipt is not None:
                fields["Receipt"] = receipt
            self.documents[str(number)] = {"payment_id": payment_id, "amount": amount, **fields}
            return fields
