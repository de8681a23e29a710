"""The one client of the fakes' ``/_sandbox/`` control APIs, for tests and scenario runs.

``SandboxClient(kie=..., tbank=..., telegram=..., s3=...)`` takes the fakes' base URLs (a T-Bank URL may end in
``/v2``, as the gateway's does); ``SandboxClient.from_settings(settings)`` reads them from anything with the
fleet's Settings field names (``kie_base_url``, ``tbank_base_url``, ``telegram_api_base``,
``s3_endpoint_url``), such as ``Settings`` itself. Each fake has ``state()``, ``configure(**knobs)``,
``reset()`` and ``fail(**rule)`` (the format is in ``sandbox.control``), and its own controls. A call the fake
refuses raises ``ControlError``; ``get`` / ``post`` return the raw answer, for tests of the control API itself.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import requests

TIMEOUT_S = 10.0


class ControlError(RuntimeError):
    """A control call the fake answered with an error status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:500]}")
        self.status, self.text = status, text


class FakeControl:
    """The shared controls of one fake at ``url`` (its root: no ``/v2``)."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> requests.Response:
        """``GET /_sandbox/<path>``, answered as it is."""
        return requests.get(f"{self.url}/_sandbox/{path}", timeout=self.timeout)

    def post(self, path: str, body: Any = None) -> requests.Response:
        """``POST /_sandbox/<path>`` with a JSON body, answered as it is."""
        return requests.post(f"{self.url}/_sandbox/{path}", json=body, timeout=self.timeout)

    def state(self) -> dict[str, Any]:
        return _json(self.get("state"))

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Merge knobs; returns the fake's whole config after the change."""
        return _json(self.post("config", knobs))["config"]

    def reset(self) -> None:
        """Forget everything recorded, drop fault rules, knobs back to the start config."""
        _json(self.post("reset"))

    def fail(self, *rules: dict[str, Any], **rule: Any) -> list[dict[str, Any]]:
        """Append fault rules, given as dicts or as one rule's keywords; returns every rule of the fake."""
        batch = [*rules, *([rule] if rule else [])]
        return _json(self.post("fail", batch))["faults"]


class KieControl(FakeControl):
    def tasks(self) -> list[dict[str, Any]]:
        return self.state()["tasks"]

    def counts(self) -> dict[str, Any]:
        return self.state()["counts"]


class TBankControl(FakeControl):
    def __init__(self, url: str, timeout: float = TIMEOUT_S) -> None:
        root = url.rstrip("/")
        super().__init__(root[:-3] if root.endswith("/v2") else root, timeout)

    def payments(self) -> list[dict[str, Any]]:
        return self.state()["payments"]

    def payment(self, payment_id: str | int) -> dict[str, Any]:
        """The bank's record of one payment (history, refunds); KeyError when the fake does not know it."""
        for payment in self.payments():
            if str(payment["payment_id"]) == str(payment_id):
                return payment
        raise KeyError(payment_id)

    def pay(self, payment_id: str | int, outcome: str = "success") -> dict[str, Any]:
        """Complete the payment page as the buyer would: ``success``, ``decline`` or ``abandon``."""
        answer = requests.post(f"{self.url}/pay/{payment_id}", json={"outcome": outcome}, timeout=self.timeout)
        return _json(answer)

    def renotify(self, payment_id: str | int, status: str, times: int = 1) -> dict[str, Any]:
        """Send a notification of any ``status`` for the payment ``times`` times (its record is untouched)."""
        return _json(self.post(f"payments/{payment_id}/notify", {"status": status, "times": times}))

    def notifications(self, payment_id: str | int, status: str | None = None) -> list[dict[str, Any]]:
        """The notifications sent for the payment (of ``status`` only, when given), each with its attempts."""
        return [n for n in self.state()["notifications"]
                if n["payment_id"] == str(payment_id) and status in (None, n["status"])]


class TelegramControl(FakeControl):
    def chat(self, chat_id: int) -> dict[str, Any]:
        """``{"chat_id", "blocked", "messages"}``: what the bot sent there, in order."""
        return _json(self.get(f"chats/{chat_id}"))

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        return self.chat(chat_id)["messages"]

    def chat_url(self, chat_id: int | str) -> str:
        """Where a person can read the chat's record in a browser."""
        return f"{self.url}/_sandbox/chats/{chat_id}"

    def file(self, file_id: str) -> bytes:
        answer = self.get(f"files/{file_id}")
        _check(answer)
        return answer.content

    def block(self, chat_id: int, blocked: bool = True) -> list[int]:
        """The user blocks (or unblocks) the bot; returns every blocked chat."""
        return _json(self.post("blocked", {"chat_id": chat_id, "blocked": blocked}))["blocked_chats"]

    def send_text(self, user: dict[str, Any] | int, text: str, *, chat_id: int | None = None) -> dict[str, Any]:
        """A user writes ``text`` to the bot; returns the updates and how our webhook answered each."""
        return _json(self.post("updates/text", _sender(user, chat_id) | {"text": text}))

    def send_photos(self, user: dict[str, Any] | int, images: Iterable[bytes], *, chat_id: int | None = None,
                    as_album: bool = True, as_document: bool = False, caption: str | None = None) -> dict[str, Any]:
        """A user sends photos (an album, or one message each, or as files); returns the deliveries."""
        body = _sender(user, chat_id) | {"images": [base64.b64encode(image).decode() for image in images],
                                         "as_album": as_album, "as_document": as_document}
        if caption is not None:
            body["caption"] = caption
        return _json(self.post("updates/photos", body))

    # -- Telegram Stars (sandbox.telegram.invoices) ---------------------------------------------------------------

    def pay_invoice(self, invoice_url: str, *, user: dict[str, Any] | int | None = None, wait: bool = True) -> str:
        """Pay an invoice link as a person would (the pre-checkout round trip, then the successful_payment
        update); its status: ``paid``, ``failed`` (``invoice()`` tells why) or, with ``wait=False``,
        ``pending`` while the fake pays in the background. ``user``: the payer (default: the fake's
        ``DEFAULT_PAYER_ID``)."""
        body: dict[str, Any] = {"wait": wait}
        if user is not None:
            body["user"] = user
        answer = requests.post(f"{_invoice_root(invoice_url)}/pay", json=body, timeout=self.timeout + 15)
        return _json(answer)["status"]

    def cancel_invoice(self, invoice_url: str) -> str:
        """Close the invoice as a person pressing "Отмена" would; its status."""
        return _json(requests.post(f"{_invoice_root(invoice_url)}/cancel", json={}, timeout=self.timeout))["status"]

    def invoice(self, invoice_url: str) -> dict[str, Any]:
        """The fake's record of the invoice: status, error_message, payload, total_amount, charge id, payer."""
        return _json(requests.get(f"{_invoice_root(invoice_url)}/status", timeout=self.timeout))

    def invoice_status(self, invoice_url: str) -> str:
        """What ``Telegram.WebApp.openInvoice``'s callback would get: pending, paid, failed or cancelled."""
        return self.invoice(invoice_url)["status"]

    def star_transactions(self) -> list[dict[str, Any]]:
        """The bot's Star transactions, oldest first (incoming payments have ``source``, refunds ``receiver``)."""
        return self.state()["star_transactions"]

    def refunds_of_charge(self, telegram_payment_charge_id: str) -> int:
        """How many refund transactions the charge has (Telegram allows one)."""
        return sum(1 for item in self.star_transactions()
                   if item["id"] == telegram_payment_charge_id and "receiver" in item)


class S3Control(FakeControl):
    def objects(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket's objects (key, size, content type); empty when the bucket does not exist."""
        return self.state()["buckets"].get(bucket, [])


class SandboxClient:
    """The controls of each fake configured; a fake without a URL raises ``LookupError`` when used."""

    def __init__(self, *, kie: str | None = None, tbank: str | None = None, telegram: str | None = None,
                 s3: str | None = None, timeout: float = TIMEOUT_S) -> None:
        self._kie = KieControl(kie, timeout) if kie else None
        self._tbank = TBankControl(tbank, timeout) if tbank else None
        self._telegram = TelegramControl(telegram, timeout) if telegram else None
        self._s3 = S3Control(s3, timeout) if s3 else None

    @classmethod
    def from_settings(cls, settings: Any, timeout: float = TIMEOUT_S) -> SandboxClient:
        """From the fleet's Settings (or any object with its base-URL fields)."""
        return cls(kie=settings.kie_base_url, tbank=settings.tbank_base_url, telegram=settings.telegram_api_base,
                   s3=settings.s3_endpoint_url, timeout=timeout)

    @property
    def kie(self) -> KieControl:
        return _present("kie", self._kie)

    @property
    def tbank(self) -> TBankControl:
        return _present("tbank", self._tbank)

    @property
    def telegram(self) -> TelegramControl:
        return _present("telegram", self._telegram)

    @property
    def s3(self) -> S3Control:
        return _present("s3", self._s3)

    def fakes(self) -> list[FakeControl]:
        return [fake for fake in (self._kie, self._tbank, self._telegram, self._s3) if fake is not None]

    def reset_all(self) -> None:
        for fake in self.fakes():
            fake.reset()


def _present(name: str, control: Any) -> Any:
    if control is None:
        raise LookupError(f"no URL was given for the {name} fake")
    return control


def _sender(user: dict[str, Any] | int, chat_id: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"user": {"id": user} if isinstance(user, int) else user}
    if chat_id is not None:
        body["chat_id"] = chat_id
    return body


def _check(answer: requests.Response) -> None:
    if answer.status_code >= 400:
        raise ControlError(answer.status_code, answer.text)


def _json(answer: requests.Response) -> Any:
    _check(answer)
    return answer.json()


def _invoice_root(invoice_url: str) -> str:
    """The invoice's own URL without its query (``return``, ``user``)."""
    return invoice_url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
