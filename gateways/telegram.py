"""The Telegram Bot API gateway (docs/providers.md#telegram-bot-api): albums, photos, messages, documents,
files, the bot's settings at Telegram (the webhook, the command list, the chat menu button), and Telegram Stars
(invoice links, the pre-checkout answer, refunds, the bot's Star transactions).

Every call goes to ``<api_base>/bot<token>/<method>`` through ``gateways.http.HttpClient``. The bot token is in
that URL, so it must never escape: the operation label is the method name, error messages are built here from
Telegram's description, and transport failures are re-raised without the underlying exception (whose text
carries the URL) chained to them.

Errors are ``TelegramError``: 429 is retryable after ``retry_after`` seconds (wait exactly that), 403 means the
user blocked the bot (``blocked``; never retry), other 4xx are permanent, 5xx and transport failures are
retryable. What Telegram would refuse (lengths, album size, file sizes) is refused here first with code 400,
before any request is made.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import requests

from gateways.errors import ProviderError
from gateways.http import HttpClient, json_body
from telemetry.logs import log

CAPTION_MAX = 1024
TEXT_MAX = 4096
ALBUM_MIN, ALBUM_MAX = 2, 10
PHOTO_MAX_BYTES = 10 * 1024 * 1024
DOCUMENT_MAX_BYTES = 50 * 1024 * 1024
DOWNLOAD_MAX_BYTES = 20 * 1024 * 1024
COMMANDS_MAX, DESCRIPTION_MAX = 100, 256
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
UPLOAD_TIMEOUT = (3.05, 60.0)  # an album of ten full-size photos can take a while to upload

logger = logging.getLogger("gateways.telegram")


class TelegramError(ProviderError):
    """A Bot API call failed; ``code`` is Telegram's ``error_code`` (400 for what we refused locally).

    ``outcome_unknown``: the call may have taken effect — the answer was lost after the request left (a read
    timeout, a reset connection, a proxy's non-JSON 5xx page). A Bot API error object (JSON) means Telegram
    answered, so we know what happened (a flood answer may still have delivered part of an album)."""

    provider = "telegram"
    outcome_unknown = False

    @property
    def already_refunded(self) -> bool:
        """refundStarPayment of a charge refunded before: the money already went back."""
        return self.code == 400 and "CHARGE_ALREADY_REFUNDED" in self.message

    @property
    def blocked(self) -> bool:
        """The chat cannot receive messages from the bot (blocked, deactivated user, ...): stop sending to it."""
        return self.code == 403


@dataclass(frozen=True)
class TelegramFile:
    """A file Telegram holds for us; ``file_path`` is what ``download_file`` takes."""

    file_id: str
    file_path: str
    file_size: int | None


@dataclass(frozen=True)
class WebhookInfo:
    """What ``getWebhookInfo`` tells: the URL ("" when none), the update types asked for (None = Telegram's
    default set), and the last delivery error Telegram saw. The secret token is write-only."""

    url: str
    pending_update_count: int
    allowed_updates: tuple[str, ...] | None
    last_error_message: str | None


@dataclass(frozen=True)
class StarTransaction:
    """One of the bot's Star transactions: ``id`` is the charge's ``telegram_payment_charge_id``; ``incoming``
    says a user paid us (``source``), else it is money out (a refund: ``receiver``). ``user_id`` and
    ``invoice_payload`` come from that user partner (None for other partners)."""

    id: str
    amount: int
    date: int
    incoming: bool
    user_id: int | None
    invoice_payload: str | None


@dataclass(frozen=True)
class BotCommand:
    """One entry of the bot's command menu: ``command`` without the slash, and its description."""

    command: str
    description: str


STARS_CURRENCY = "XTR"
STARS_TITLE_MAX, STARS_DESCRIPTION_MAX, STARS_PAYLOAD_MAX, STARS_MAX = 32, 255, 128, 10_000
STAR_TRANSACTIONS_MAX = 100
FLOOD_DESCRIPTION = re.compile(r"Too Many Requests: retry after (\d{1,6})", re.IGNORECASE)
WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram delivers webhooks to


def webhook_url_problem(url: str) -> str | None:
    """Why Telegram would not deliver to ``url`` (https only, ports 443/80/88/8443), or None when it would."""
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError:
        return "the webhook URL is malformed"
    if parts.scheme != "https" or not parts.hostname:
        return "the webhook URL must be https"
    if port not in WEBHOOK_PORTS:
        return f"the webhook port must be one of {', '.join(map(str, WEBHOOK_PORTS))} (not {port})"
    return None


def web_app_menu_button(text: str, url: str) -> dict[str, Any]:
    """A chat menu button that opens the Mini App at ``url`` (Telegram takes HTTPS only)."""
    return {"type": "web_app", "text": text, "web_app": {"url": url}}


def url_button(text: str, url: str) -> dict[str, Any]:
    """An inline keyboard button that opens ``url``."""
    return {"text": text, "url": url}


def web_app_button(text: str, url: str) -> dict[str, Any]:
    """An inline keyboard button that opens the Mini App at ``url``."""
    return {"text": text, "web_app": {"url": url}}


def inline_keyboard(*rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A ``reply_markup`` with one row of inline buttons per argument."""
    return {"inline_keyboard": [[dict(button) for button in row] for row in rows]}


class TelegramClient:
    """One bot's view of the Bot API. Thread-safe as far as the underlying ``requests`` session is."""

    def __init__(self, api_base: str, bot_token: str, *, http: HttpClient | None = None,
                 https_only: bool = False) -> None:
        """``https_only``: refuse, before any call, a webhook that is not https on 443/80/88/8443 and a Web App
        button that is not https, as Telegram does (``runtime`` and ``workers.telegram_setup`` set it outside
        sandbox mode; the sandbox's fakes live on plain http)."""
        if not bot_token:
            raise ValueError("bot_token is required")
        self.api_base = api_base.rstrip("/")
        self.https_only = https_only
        self._token = bot_token
        self._http = http or HttpClient("telegram", self.api_base, error_type=TelegramError)

    def __repr__(self) -> str:
        return f"TelegramClient(api_base={self.api_base!r})"

    def send_media_group(self, chat_id: int, photos: Sequence[bytes], *, caption: str | None = None) -> list[int]:
        """Send 2..10 photos as one album, ``caption`` under the first; return their message ids in order.

        Telegram delivers all of the album or none of it.
        """
        method = "sendMediaGroup"
        if not ALBUM_MIN <= len(photos) <= ALBUM_MAX:
            raise self._refused(method, f"an album takes {ALBUM_MIN}..{ALBUM_MAX} photos, got {len(photos)}")
        self._check_caption(method, caption)
        media: list[dict[str, Any]] = []
        files: dict[str, tuple[str, bytes, str]] = {}
        for index, photo in enumerate(photos):
            self._check_upload(method, photo, PHOTO_MAX_BYTES)
            item: dict[str, Any] = {"type": "photo", "media": f"attach://p{index}"}
            if index == 0 and caption:
                item["caption"] = caption
            media.append(item)
            files[f"p{index}"] = (f"p{index}{_extension(photo)}", photo, "application/octet-stream")
        data = {"chat_id": str(chat_id), "media": json.dumps(media, ensure_ascii=False)}
        result = self._call(method, data=data, files=files, timeout=UPLOAD_TIMEOUT)
        if not isinstance(result, list) or len(result) != len(photos):
            raise TelegramError(f"{method}: unexpected result shape", code="bad_result")
        return [_message_id(method, message) for message in result]

    def send_photo(self, chat_id: int, photo: bytes, *, caption: str | None = None,
                   reply_markup: Mapping[str, Any] | None = None) -> int:
        """Send one photo (uploaded bytes); return its message id."""
        method = "sendPhoto"
        self._check_caption(method, caption)
        self._check_upload(method, photo, PHOTO_MAX_BYTES)
        data = {"chat_id": str(chat_id)}
        if caption:
            data["caption"] = caption
        if reply_markup is not None:
            data["reply_markup"] = json.dumps(dict(reply_markup), ensure_ascii=False)
        files = {"photo": (f"photo{_extension(photo)}", photo, "application/octet-stream")}
        return _message_id(method, self._call(method, data=data, files=files, timeout=UPLOAD_TIMEOUT))

    def send_message(self, chat_id: int, text: str, *, reply_markup: Mapping[str, Any] | None = None) -> int:
        """Send a text message (1..4096 characters), optionally with an inline keyboard; return its message id."""
        method = "sendMessage"
        if not text.strip() or _utf16_len(text) > TEXT_MAX:
            raise self._refused(method, f"text must be 1..{TEXT_MAX} characters")
        body: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if reply_markup is not None:
            body["reply_markup"] = dict(reply_markup)
        return _message_id(method, self._call(method, json=body))

    def send_document(self, chat_id: int, data: bytes, filename: str, *, caption: str | None = None) -> int:
        """Send a file (up to 50 MB, e.g. the album as a ZIP) under ``filename``; return its message id."""
        method = "sendDocument"
        self._check_caption(method, caption)
        self._check_upload(method, data, DOCUMENT_MAX_BYTES)
        if not filename.strip():
            raise self._refused(method, "a document needs a file name")
        form = {"chat_id": str(chat_id)}
        if caption:
            form["caption"] = caption
        files = {"document": (filename, data, "application/octet-stream")}
        return _message_id(method, self._call(method, data=form, files=files, timeout=UPLOAD_TIMEOUT))

    def get_file(self, file_id: str) -> TelegramFile:
        """Ask Telegram where a file is; files over 20 MB cannot be downloaded by bots (400)."""
        result = self._call("getFile", json={"file_id": file_id})
        if not isinstance(result, dict) or not isinstance(result.get("file_path"), str):
            raise TelegramError("getFile: the answer has no file_path", code="bad_result")
        size = result.get("file_size")
        return TelegramFile(file_id=str(result.get("file_id", file_id)), file_path=result["file_path"],
                            file_size=size if isinstance(size, int) else None)

    def download_file(self, file_path: str) -> bytes:
        """The bytes of a file ``get_file`` located; more than 20 MB is refused (400) without reading it all."""
        op = "download_file"
        if not file_path or "://" in file_path or file_path.startswith("/"):
            raise self._refused(op, "file_path must be a relative path from getFile")
        path = f"/file/bot{self._token}/{quote(file_path, safe='/')}"
        response = self._request("GET", path, op=op, stream=True)
        with response:
            if response.status_code != 200:
                self._raise_for_answer(op, response, json_body(response, TelegramError, op))
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > DOWNLOAD_MAX_BYTES:
                raise self._refused(op, "file is too big (over 20 MB)")
            return self._read_capped(op, response)

    def set_webhook(self, url: str, secret_token: str, *, allowed_updates: Sequence[str] | None = None) -> None:
        """Point Telegram at our webhook; every update will carry ``secret_token`` in a header. With
        ``allowed_updates`` only those update types are sent (None keeps what was set before)."""
        method = "setWebhook"
        if not url.startswith(("https://", "http://")):
            raise self._refused(method, "the webhook URL must be absolute")
        if self.https_only and (problem := webhook_url_problem(url)):
            raise self._refused(method, problem)
        if not 1 <= len(secret_token) <= 256 or not all(c.isascii() and (c.isalnum() or c in "_-")
                                                        for c in secret_token):
            raise self._refused(method, "secret_token must be 1..256 of A-Z, a-z, 0-9, _ and -")
        body: dict[str, Any] = {"url": url, "secret_token": secret_token}
        if allowed_updates is not None:
            body["allowed_updates"] = list(allowed_updates)
        self._call(method, json=body)

    def get_webhook_info(self) -> WebhookInfo:
        """Where Telegram sends updates now ("" = no webhook). Telegram never tells the secret token back."""
        result = self._call("getWebhookInfo", json={})
        if not isinstance(result, dict) or not isinstance(result.get("url"), str):
            raise TelegramError("getWebhookInfo: unexpected result shape", code="bad_result")
        allowed = result.get("allowed_updates")
        error = result.get("last_error_message")
        return WebhookInfo(url=result["url"], pending_update_count=int(result.get("pending_update_count") or 0),
                           allowed_updates=tuple(allowed) if isinstance(allowed, list) else None,
                           last_error_message=self._scrub(error) if isinstance(error, str) else None)

    def delete_webhook(self) -> None:
        """Stop webhook delivery."""
        self._call("deleteWebhook", json={})

    def set_my_commands(self, commands: Sequence[BotCommand]) -> None:
        """Replace the bot's command list (the default scope, every language) with ``commands``."""
        method = "setMyCommands"
        if len(commands) > COMMANDS_MAX:
            raise self._refused(method, f"at most {COMMANDS_MAX} commands")
        for item in commands:
            if not _COMMAND.fullmatch(item.command) or not 1 <= len(item.description.strip()) <= DESCRIPTION_MAX:
                raise self._refused(method, f"command {item.command!r}: 1..32 of a-z, 0-9 and _, "
                                            f"with a description of 1..{DESCRIPTION_MAX} characters")
        self._call(method, json={"commands": [{"command": c.command, "description": c.description}
                                              for c in commands]})

    def get_my_commands(self) -> list[BotCommand]:
        """The bot's command list in the default scope, every language."""
        result = self._call("getMyCommands", json={})
        if not isinstance(result, list) or not all(isinstance(c, dict) for c in result):
            raise TelegramError("getMyCommands: unexpected result shape", code="bad_result")
        return [BotCommand(str(c.get("command", "")), str(c.get("description", ""))) for c in result]

    def set_chat_menu_button(self, menu_button: Mapping[str, Any], *, chat_id: int | None = None) -> None:
        """Set the menu button of one private chat, or the bot's default one (``chat_id`` None)."""
        web_app = menu_button.get("web_app")
        if self.https_only and menu_button.get("type") == "web_app":
            app_url = web_app.get("url") if isinstance(web_app, Mapping) else None
            if not isinstance(app_url, str) or urlsplit(app_url).scheme != "https" or not urlsplit(app_url).hostname:
                raise self._refused("setChatMenuButton", "a Web App button's URL must be https")
        body: dict[str, Any] = {"menu_button": dict(menu_button)}
        if chat_id is not None:
            body["chat_id"] = chat_id
        self._call("setChatMenuButton", json=body)

    def get_chat_menu_button(self, *, chat_id: int | None = None) -> dict[str, Any]:
        """The MenuButton of one private chat, or the bot's default one (``chat_id`` None)."""
        result = self._call("getChatMenuButton", json={} if chat_id is None else {"chat_id": chat_id})
        if not isinstance(result, dict) or not isinstance(result.get("type"), str):
            raise TelegramError("getChatMenuButton: unexpected result shape", code="bad_result")
        return result

    def get_me(self) -> dict[str, Any]:
        """The bot's own User object (a cheap authenticated health check)."""
        result = self._call("getMe", json={})
        if not isinstance(result, dict):
            raise TelegramError("getMe: unexpected result shape", code="bad_result")
        return result

    # -- Telegram Stars --------------------------------------------------------------------------------------

    def create_invoice_link(self, *, title: str, description: str, payload: str, label: str, stars: int) -> str:
        """A link to an invoice of ``stars`` Telegram Stars (XTR, no payment provider, one price) carrying
        ``payload`` (1..128 bytes) back to us in the pre-checkout query and the successful payment."""
        method = "createInvoiceLink"
        if not 1 <= len(title) <= STARS_TITLE_MAX or not 1 <= len(description) <= STARS_DESCRIPTION_MAX:
            raise self._refused(method, f"title 1..{STARS_TITLE_MAX} and description "
                                        f"1..{STARS_DESCRIPTION_MAX} characters")
        if not 1 <= len(payload.encode()) <= STARS_PAYLOAD_MAX:
            raise self._refused(method, f"payload must be 1..{STARS_PAYLOAD_MAX} bytes")
        if not 1 <= stars <= STARS_MAX:
            raise self._refused(method, f"a Stars price is 1..{STARS_MAX}")
        result = self._call(method, json={"title": title, "description": description, "payload": payload,
                                          "provider_token": "", "currency": STARS_CURRENCY,
                                          "prices": [{"label": label, "amount": stars}]})
        if not isinstance(result, str) or not result.startswith(("https://", "http://")):
            raise TelegramError(f"{method}: the answer is not a link", code="bad_result")
        return result

    def answer_pre_checkout_query(self, query_id: str, *, ok: bool, error_message: str | None = None) -> None:
        """Accept or refuse a pre-checkout query (Telegram waits 10 s); a refusal needs an ``error_message``."""
        self._call("answerPreCheckoutQuery", json=pre_checkout_answer(query_id, ok=ok, error_message=error_message,
                                                                      as_method=False))

    def refund_star_payment(self, *, user_id: int, telegram_payment_charge_id: str) -> None:
        """Return a whole Stars charge to the user who paid it. Telegram answers 400 CHARGE_ALREADY_REFUNDED to
        a second refund of the same charge: ``TelegramError.already_refunded`` (the money went back once)."""
        self._call("refundStarPayment", json={"user_id": user_id,
                                              "telegram_payment_charge_id": telegram_payment_charge_id})

    def get_star_transactions(self, *, offset: int = 0, limit: int = STAR_TRANSACTIONS_MAX) -> list[StarTransaction]:
        """The bot's Star transactions, newest first: ``limit`` (1..100) of them from ``offset``."""
        method = "getStarTransactions"
        if offset < 0 or not 1 <= limit <= STAR_TRANSACTIONS_MAX:
            raise self._refused(method, f"offset >= 0 and limit 1..{STAR_TRANSACTIONS_MAX}")
        result = self._call(method, json={"offset": offset, "limit": limit})
        items = result.get("transactions") if isinstance(result, dict) else None
        if not isinstance(items, list):
            raise TelegramError(f"{method}: unexpected result shape", code="bad_result")
        return [_star_transaction(method, item) for item in items]

    def close(self) -> None:
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _call(self, method: str, *, json: Any = None, data: Any = None, files: Any = None,
              timeout: tuple[float, float] | None = None) -> Any:
        response = self._request("POST", f"/bot{self._token}/{method}", op=method, json=json, data=data,
                                 files=files, timeout=timeout)
        try:
            body = json_body(response, TelegramError, method)
        except TelegramError as err:
            err.outcome_unknown = response.status_code >= 500  # a proxy's page: Telegram may have sent it
            raise
        if response.status_code == 200 and body.get("ok") is True and "result" in body:
            return body["result"]
        self._raise_for_answer(method, response, body)

    def _request(self, verb: str, path: str, *, op: str, **kwargs: Any) -> requests.Response:
        try:
            return self._http.request(verb, path, op=op, **kwargs)
        except ProviderError as exc:  # whatever error type the injected HttpClient raises
            failure = TelegramError(self._scrub(exc.message), code=exc.code, retryable=exc.retryable,
                                    retry_after=exc.retry_after, http_status=exc.http_status)
            # Only a failed connect proves the request never left; anything later may have been acted on.
            failure.outcome_unknown = "ConnectTimeout" not in exc.message
        # Raised outside the except block on purpose: the transport exception's text holds the URL, and with
        # it the bot token, so it must not ride along as __cause__ or __context__ into logs and tracebacks.
        raise failure

    def _raise_for_answer(self, op: str, response: requests.Response, body: Mapping[str, Any]) -> NoReturn:
        code = body.get("error_code")
        if isinstance(code, bool) or not isinstance(code, int):
            code = response.status_code
        description = self._scrub(str(body.get("description") or f"HTTP {response.status_code}"))[:300]
        raw_parameters = body.get("parameters")
        parameters = raw_parameters if isinstance(raw_parameters, dict) else {}
        retry_after = parameters.get("retry_after")
        retry_after = float(retry_after) if isinstance(retry_after, (int, float)) and retry_after >= 0 else None
        flood = FLOOD_DESCRIPTION.search(description)
        if flood is not None and code != 429:
            # sendMediaGroup can deliver the start of an album and then answer 400 "Too Many Requests: retry
            # after N": a flood wait like a 429, not a bad request (docs/providers.md, Telegram).
            code = 429
            if retry_after is None:
                retry_after = float(flood.group(1))
        retryable = code == 429 or code >= 500
        log(logger, "telegram_api_error", level=logging.WARNING, op=op, code=code, retry_after=retry_after,
            http_status=response.status_code)
        raise TelegramError(f"{op}: {description}", code=code, retryable=retryable, retry_after=retry_after,
                            http_status=response.status_code)

    def _read_capped(self, op: str, response: requests.Response) -> bytes:
        chunks: list[bytes] = []
        total = 0
        failure: TelegramError | None = None
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                total += len(chunk)
                if total > DOWNLOAD_MAX_BYTES:
                    failure = self._refused(op, "file is too big (over 20 MB)")
                    break
                chunks.append(chunk)
        except requests.RequestException as exc:
            failure = TelegramError(f"{op}: {type(exc).__name__} while reading", retryable=True)
        if failure is not None:
            raise failure  # outside the except block: see _request
        return b"".join(chunks)

    def _check_caption(self, method: str, caption: str | None) -> None:
        if caption is not None and _utf16_len(caption) > CAPTION_MAX:
            raise self._refused(method, f"caption is longer than {CAPTION_MAX} characters")

    def _check_upload(self, method: str, data: bytes, limit: int) -> None:
        if not data:
            raise self._refused(method, "file is empty")
        if len(data) > limit:
            raise self._refused(method, f"file is larger than {limit // (1024 * 1024)} MB")

    def _refused(self, op: str, reason: str) -> TelegramError:
        """What Telegram would answer 400 to, caught before sending anything."""
        return TelegramError(f"{op}: {reason}", code=400, retryable=False)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<bot-token>")


def pre_checkout_answer(query_id: str, *, ok: bool, error_message: str | None,
                        as_method: bool = True) -> dict[str, Any]:
    """answerPreCheckoutQuery's parameters; ``as_method`` adds ``"method"`` so a webhook can answer the update
    with it in its response body (Telegram executes it, no second request)."""
    if not ok and not (error_message or "").strip():
        raise ValueError("a refused pre-checkout query needs an error_message the person will read")
    body: dict[str, Any] = {"pre_checkout_query_id": query_id, "ok": ok}
    if not ok:
        body["error_message"] = error_message
    return {"method": "answerPreCheckoutQuery", **body} if as_method else body


def _star_transaction(method: str, item: Any) -> StarTransaction:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("amount"), int):
        raise TelegramError(f"{method}: a transaction without id or amount", code="bad_result")
    incoming = isinstance(item.get("source"), dict)
    found = item.get("source") if incoming else item.get("receiver")
    partner: dict[str, Any] = found if isinstance(found, dict) and found.get("type") == "user" else {}
    raw_user = partner.get("user")
    user: dict[str, Any] = raw_user if isinstance(raw_user, dict) else {}
    user_id = user.get("id") if isinstance(user.get("id"), int) else None
    payload = partner.get("invoice_payload") if isinstance(partner.get("invoice_payload"), str) else None
    return StarTransaction(id=item["id"], amount=item["amount"], date=int(item.get("date") or 0), incoming=incoming,
                           user_id=user_id, invoice_payload=payload)


def _message_id(method: str, message: Any) -> int:
    if isinstance(message, dict) and isinstance(message.get("message_id"), int):
        return message["message_id"]
    raise TelegramError(f"{method}: the answer has no message_id", code="bad_result")


def _utf16_len(text: str) -> int:
    """Telegram counts lengths in UTF-16 code units: an emoji outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


def _extension(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return ""
