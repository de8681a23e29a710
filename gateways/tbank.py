"""T-Bank Internet Acquiring v2: request signing, Init / GetState / Cancel, and incoming notifications.

Wire contract: docs/providers.md#t-bank. Every method is ``POST <base>/<Method>`` with a JSON body signed by ``Token``
(see ``make_token``); amounts are integer kopecks; every answer carries ``Success`` and ``ErrorCode``
(``"0"`` = ok) and a business error usually arrives with HTTP 200, so the answer body, not the HTTP status,
decides. ``PaymentId`` arrives as a string or a number and is always handed out as ``str``.

Every Init sends ``PayType: "O"`` (one-stage): a terminal set to two-stage payments would otherwise stop at
AUTHORIZED, holding the money while we wait for CONFIRMED. With an online cash register the terminal needs a 54-FZ
``Receipt`` on Init and on a partial Cancel; the caller builds it (``rules.receipts``), it is sent as given and,
like ``DATA``, is not part of the Token.

Retry policy (``TBankError.retryable``): transport failures, HTTP 5xx / 429, and the ErrorCodes that the
public error list documents as internal or "try again later" — see ``RETRYABLE_CODES``. Everything else is
permanent, in particular the invalid-parameter errors (``TBankError.invalid_parameters``: 9999 "Неверные
параметры", the 2xx field errors, the 3xx receipt errors such as 309 "Receipt required" and 308 "items do not
sum to Amount") — the same request fails the same way however often it is sent — plus bad token (204), unknown
terminal (501, 205), OrderId already paid (623) and card declines (1xxx: payment outcomes, not call failures).
Never logged: the password and the token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateways.errors import ProviderError
from gateways.http import HttpClient, json_body
from telemetry.logs import log

if TYPE_CHECKING:
    from settings import Settings

logger = logging.getLogger("gateways.tbank")

# ErrorCodes worth retrying later: 3 / 21 / 96-98 / 401 internal errors of the acquiring system and its
# components; 55, 120, 123, 125, 402, 9001 "try again later". 3029/3042 and 3030/3041 are the hourly and daily
# limits on refund attempts (SBP), retryable after the window (RETRY_AFTER_S). Not 9999: "Неверные параметры".
RETRYABLE_CODES = frozenset({"3", "21", "55", "96", "97", "98", "120", "123", "125", "401", "402", "9001",
                             "3029", "3030", "3041", "3042"})
RETRY_AFTER_S = {"3029": 3600.0, "3042": 3600.0, "3030": 86400.0, "3041": 86400.0}
BAD_TOKEN = "204"
ORDER_ALREADY_PAID = "623"
INVALID_PARAMETERS = "9999"
RECEIPT_REQUIRED = "309"
PAY_TYPES = ("O", "T")  # one-stage (charge at once), two-stage (hold until Confirm)

ORDER_ID_MAX = 36
DESCRIPTION_MAX = 140
DATA_MAX_PAIRS = 20
DATA_KEY_MAX = 20
DATA_VALUE_MAX = 100

_UNSIGNED_FIELDS = frozenset({"Token", "DATA", "Receipt"})


class TBankError(ProviderError):
    """A T-Bank call failed; ``code`` is the ErrorCode string (or None for transport / HTTP failures)."""

    provider = "tbank"

    @property
    def bad_token(self) -> bool:
        """The terminal password (or the signing) is wrong: no retry can help, an operator must."""
        return self.code == BAD_TOKEN

    @property
    def order_already_paid(self) -> bool:
        """The OrderId already has a successful payment: a new attempt needs a new OrderId."""
        return self.code == ORDER_ALREADY_PAID

    @property
    def invalid_parameters(self) -> bool:
        """The request itself is wrong (9999, a 2xx field error, a 3xx receipt error): never retried, a
        developer or an operator must change what is sent."""
        return is_invalid_parameters(self.code)


def is_invalid_parameters(code: object) -> bool:
    """T-Bank's invalid-parameter ErrorCodes: 9999 and the three-digit 2xx (fields) and 3xx (receipt) families."""
    text = str(code) if code is not None else ""
    return text == INVALID_PARAMETERS or (len(text) == 3 and text[0] in "23" and text.isdigit())


class TBankValidationError(TBankError, ValueError):
    """A request was refused locally, before any call: a caller's bug, never retryable."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_request", retryable=False)


class InvalidNotification(ValueError):
    """A notification body is missing a field or has one of the wrong type (the web layer answers 4xx)."""


def _token_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def make_token(params: Mapping[str, object], password: str) -> str:
    """The T-Bank ``Token`` of ``params``: root-level scalars (no Token/DATA/Receipt, no objects or arrays, no
    nulls) plus ``Password``, sorted by key, values concatenated, SHA-256 as lower hex."""
    fields = {key: value for key, value in params.items()
              if key not in _UNSIGNED_FIELDS and value is not None and not isinstance(value, (Mapping, list, tuple))}
    fields["Password"] = password
    joined = "".join(_token_value(fields[key]) for key in sorted(fields))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def verify_notification(body: Mapping[str, object], password: str) -> bool:
    """True when ``body`` carries a ``Token`` that matches its fields under ``password`` (constant-time)."""
    token = body.get("Token")
    if not isinstance(token, str) or not token:
        return False
    try:
        expected = make_token(body, password)
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON) is no text the bank signs
        return False
    return hmac.compare_digest(token.lower().encode("ascii", "replace"), expected.encode("ascii"))


@dataclass(frozen=True)
class InitResult:
    payment_id: str
    payment_url: str
    status: str
    order_id: str
    amount: int


@dataclass(frozen=True)
class PaymentState:
    payment_id: str
    status: str
    amount: int
    order_id: str


@dataclass(frozen=True)
class CancelResult:
    payment_id: str
    status: str
    original_amount: int  # what was left before this cancel, kopecks
    new_amount: int  # what is left after it


# The answers' fields, as the result classes name them -> T-Bank's key and type
_INIT_ANSWER = {"payment_url": ("PaymentURL", str), "status": ("Status", str), "order_id": ("OrderId", str),
                "amount": ("Amount", int)}
_STATE_ANSWER = {"status": ("Status", str), "amount": ("Amount", int), "order_id": ("OrderId", str)}
_CANCEL_ANSWER = {"status": ("Status", str), "original_amount": ("OriginalAmount", int),
                  "new_amount": ("NewAmount", int)}


@dataclass(frozen=True)
class TBankNotification:
    """A parsed (not yet verified: see ``verify_notification``) notification body."""

    terminal_key: str
    order_id: str
    success: bool
    status: str
    payment_id: str
    error_code: str
    amount: int
    raw: dict[str, Any] = field(repr=False)


def parse_notification(body: Mapping[str, object]) -> TBankNotification:
    """The notification in ``body``; InvalidNotification (a ValueError) names the first missing or mistyped field.

    ``PaymentId`` may be a number or a string of digits; ``ErrorCode`` a string or an integer; ``Amount`` must be
    a JSON integer (kopecks) and ``Success`` a JSON boolean.
    """
    if not isinstance(body, Mapping):
        raise InvalidNotification("notification is not a JSON object")
    payment_id = _payment_id(body.get("PaymentId"))
    if payment_id is None:
        raise InvalidNotification("PaymentId must be a positive number or a string of digits")
    success = body.get("Success")
    if not isinstance(success, bool):
        raise InvalidNotification("Success must be a boolean")
    amount = body.get("Amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise InvalidNotification("Amount must be a non-negative integer (kopecks)")
    error_code = body.get("ErrorCode")
    if isinstance(error_code, int) and not isinstance(error_code, bool):
        error_code = str(error_code)
    if not isinstance(error_code, str) or not error_code:
        raise InvalidNotification("ErrorCode must be a string")
    return TBankNotification(terminal_key=_text(body, "TerminalKey"), order_id=_text(body, "OrderId"),
                             success=success, status=_text(body, "Status"), payment_id=payment_id,
                             error_code=error_code, amount=amount, raw=dict(body))


def _text(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidNotification(f"{key} must be a non-empty string")
    return value


def _payment_id(value: object) -> str | None:
    """PaymentId as the provider sends it (number or digit string) normalised to ``str``; None if it is neither."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isdigit():
        return value
    return None


def _check_amount(amount: object, what: str) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise TBankValidationError(f"{what} must be a positive integer number of kopecks")


def _check_data(data: Mapping[str, str]) -> dict[str, str]:
    if len(data) > DATA_MAX_PAIRS:
        raise TBankValidationError(f"DATA holds at most {DATA_MAX_PAIRS} pairs")
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TBankValidationError("DATA keys and values must be strings")
        if not key or len(key) > DATA_KEY_MAX or len(value) > DATA_VALUE_MAX:
            raise TBankValidationError(f"DATA keys are 1..{DATA_KEY_MAX} chars, values <= {DATA_VALUE_MAX}")
    return dict(data)


class TBankClient:
    """One terminal's client. Thread-safe as far as the underlying ``HttpClient`` session is."""

    def __init__(self, base_url: str, terminal_key: str, password: str, *, http: HttpClient | None = None) -> None:
        self.terminal_key = terminal_key
        self._password = password
        self._http = http or HttpClient("tbank", base_url, error_type=TBankError)

    def __repr__(self) -> str:
        return f"TBankClient(base_url={self._http.base_url!r}, terminal_key={self.terminal_key!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> TBankClient:
        """A client for the terminal configured in ``settings``."""
        return cls(settings.tbank_base_url, settings.tbank_terminal_key, settings.tbank_password)

    def init(self, *, order_id: str, amount: int, description: str, notification_url: str,
             success_url: str | None = None, fail_url: str | None = None, data: Mapping[str, str] | None = None,
             receipt: Mapping[str, Any] | None = None, redirect_due_date: datetime | None = None,
             pay_type: str = "O") -> InitResult:
        """Create a payment of ``amount`` kopecks for ``order_id`` and return its PaymentId and PaymentURL.

        ``order_id`` is the idempotency key of the attempt: reusing one already paid raises TBankError 623
        (``order_already_paid``). ``redirect_due_date`` must be timezone-aware. ``pay_type`` is "O" (one-stage,
        whatever the terminal's default) unless a caller means to hold the money ("T"); ``receipt`` is the 54-FZ
        Receipt a terminal with a cash register needs (items summing to ``amount``).
        """
        _check_amount(amount, "Amount")
        if pay_type not in PAY_TYPES:
            raise TBankValidationError(f"PayType must be one of {', '.join(PAY_TYPES)}")
        if not isinstance(order_id, str) or not 0 < len(order_id) <= ORDER_ID_MAX:
            raise TBankValidationError(f"OrderId must be 1..{ORDER_ID_MAX} characters")
        if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
            raise TBankValidationError(f"Description must be at most {DESCRIPTION_MAX} characters")
        payload: dict[str, Any] = {"Amount": amount, "OrderId": order_id, "Description": description,
                                   "PayType": pay_type, "NotificationURL": notification_url}
        if success_url:
            payload["SuccessURL"] = success_url
        if fail_url:
            payload["FailURL"] = fail_url
        if redirect_due_date is not None:
            if redirect_due_date.tzinfo is None:
                raise TBankValidationError("RedirectDueDate must be timezone-aware")
            payload["RedirectDueDate"] = redirect_due_date.isoformat(timespec="seconds")
        if data:
            payload["DATA"] = _check_data(data)
        result = InitResult(**self._payment_call("Init", payload, _INIT_ANSWER, receipt=receipt,
                                                 absent={"order_id": order_id, "amount": amount}))
        log(logger, "tbank_payment_created", order_id=order_id, payment_id=result.payment_id, amount=amount)
        return result

    def get_state(self, payment_id: str) -> PaymentState:
        """The payment's current status, amount and OrderId as T-Bank sees them."""
        return PaymentState(**self._payment_call("GetState", {"PaymentId": self._request_payment_id(payment_id)},
                                                 _STATE_ANSWER))

    def cancel(self, payment_id: str, *, amount: int | None = None, external_request_id: str | None = None,
               receipt: Mapping[str, Any] | None = None) -> CancelResult:
        """Cancel, reverse or refund ``amount`` kopecks (all that is left when None).

        Pass ``external_request_id`` to make the refund idempotent: the same id twice refunds once and answers
        the same. Without it every call is a new refund. ``receipt``: the 54-FZ Receipt of the refunded part (items
        summing to ``amount``), which a terminal with a cash register needs on a partial refund.
        """
        payload: dict[str, Any] = {"PaymentId": self._request_payment_id(payment_id)}
        if amount is not None:
            _check_amount(amount, "Amount")
            payload["Amount"] = amount
        if external_request_id is not None:
            if not external_request_id:
                raise TBankValidationError("ExternalRequestId must not be empty")
            payload["ExternalRequestId"] = external_request_id
        result = CancelResult(**self._payment_call("Cancel", payload, _CANCEL_ANSWER, receipt=receipt))
        log(logger, "tbank_payment_canceled", payment_id=result.payment_id, status=result.status,
            amount=amount, external_request_id=external_request_id, new_amount=result.new_amount)
        return result

    def _payment_call(self, method: str, payload: dict[str, Any], answer: Mapping[str, tuple[str, type]], *,
                      receipt: Mapping[str, Any] | None = None,
                      absent: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The signed request about one payment (with the 54-FZ ``receipt`` when given) and its answer as the
        result's fields: the PaymentId and each ``answer`` field (ours -> T-Bank's key and type) checked, so a
        malformed answer fails here naming the method; a key T-Bank may leave out takes its ``absent`` value.
        """
        if receipt is not None:
            payload = {**payload, "Receipt": dict(receipt)}
        body = self._call(method, payload)
        fields: dict[str, Any] = {"payment_id": self._answer_payment_id(body, method)}
        for name, (key, kind) in answer.items():
            if absent and name in absent and key not in body:
                fields[name] = absent[name]
            else:
                fields[name] = self._field(body, key, kind, method)
        return fields

    def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"TerminalKey": self.terminal_key, **payload}
        body["Token"] = make_token(body, self._password)
        response = self._http.request("POST", f"/{method}", op=method, json=body)
        if response.status_code >= 500 or response.status_code == 429:
            raise TBankError(f"{method}: HTTP {response.status_code}", retryable=True,
                             http_status=response.status_code)
        answer = json_body(response, TBankError, method)
        code = str(answer.get("ErrorCode", ""))
        if answer.get("Success") is not True or code != "0":
            detail = " ".join(str(answer[k]) for k in ("Message", "Details") if answer.get(k))
            error = TBankError(f"{method}: {detail or 'refused'}", code=code or None,
                               retryable=code in RETRYABLE_CODES, retry_after=RETRY_AFTER_S.get(code),
                               http_status=response.status_code)
            log(logger, "tbank_refused", level=logging.WARNING, op=method, code=code,
                retryable=error.retryable, order_id=payload.get("OrderId"), payment_id=payload.get("PaymentId"))
            raise error
        return answer

    @staticmethod
    def _request_payment_id(payment_id: str | int) -> str:
        normalised = _payment_id(payment_id)
        if normalised is None:
            raise TBankValidationError("PaymentId must be a positive number or a string of digits")
        return normalised

    @staticmethod
    def _answer_payment_id(body: Mapping[str, Any], method: str) -> str:
        normalised = _payment_id(body.get("PaymentId"))
        if normalised is None:
            raise TBankError(f"{method}: answer has no valid PaymentId")
        return normalised

    @staticmethod
    def _field(body: Mapping[str, Any], key: str, kind: type, method: str) -> Any:
        value = body.get(key)
        if kind is int and isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TBankError(f"{method}: answer has no valid {key}")
        return value
