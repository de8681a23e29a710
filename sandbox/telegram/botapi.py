"""The fake Bot API itself: ``/bot<token>/<method>`` and file downloads at ``/file/bot<token>/<path>``.

Answers have the Bot API's shape (``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description",
"parameters"?}``). Sends go through the same gate in this order: parameters checked (400), chat not blocked (403),
flood limits (429, nothing recorded), then the message is numbered and recorded.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.http import HTTP_STATUS_CODES

from sandbox.control import FaultRule
from sandbox.telegram.bot_setup import SETUP_METHODS
from sandbox.telegram.checks import (
    DOCUMENT_MAX_BYTES,
    DOWNLOAD_MAX_BYTES,
    Refused,
    check_caption,
    check_reply_markup,
    check_text,
    inspect_photo,
    thumbnail,
)
from sandbox.telegram.stars import STARS_METHODS
from sandbox.telegram.state import FakeTelegramState, StoredFile

Params = dict[str, Any]
PHOTO_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif"}


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


def bot_api_blueprint() -> Blueprint:
    """The Bot API routes; the state is ``current_app.extensions["fake"]``."""
    bp = Blueprint("telegram_bot_api", __name__)

    @bp.route("/bot<token>/<method>", methods=["GET", "POST"])
    def call(token: str, method: str) -> Any:
        state: FakeTelegramState = current_app.extensions["fake"]
        params = _params()
        chat_id = params.get("chat_id")
        chat_id = chat_id if isinstance(chat_id, int) else None
        if token != state.config.bot_token:
            return _failure(state, method, chat_id, ApiError(401, "Unauthorized"))
        handler = METHODS.get(method)
        if handler is None:
            return _failure(state, method, chat_id, ApiError(404, "Not Found"))
        rule = state.faults.take(method, json.dumps(params, ensure_ascii=False, default=str))
        if rule is not None and rule.delay_ms:
            time.sleep(rule.delay_ms / 1000)  # a slow provider (or network)
        if rule is not None and rule.partial and method == "sendMediaGroup":
            try:  # Telegram can deliver the start of an album, then refuse the rest (a flood mid-album)
                send_media_group(state, params, limit=rule.partial)
            except (Refused, ApiError):
                pass
        if rule is not None and not rule.is_delay_only:
            return _injected(state, method, chat_id, rule)
        if state.draw_server_error():
            return _failure(state, method, chat_id, ApiError(500, "Internal Server Error"))
        try:
            result = handler(state, params)
        except Refused as refused:
            return _failure(state, method, chat_id, ApiError(400, refused.description))
        except ApiError as error:
            return _failure(state, method, chat_id, error)
        if method.startswith("send") and state.draw_lost_answer():
            state.record_call(method, chat_id, 502, "answer lost after the message was sent")
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, mimetype="text/html")
        state.record_call(method, chat_id, 200)
        return jsonify({"ok": True, "result": result})

    @bp.route("/file/bot<token>/<path:file_path>", methods=["GET"])
    def download(token: str, file_path: str) -> Any:
        state: FakeTelegramState = current_app.extensions["fake"]
        if token != state.config.bot_token:
            return _failure(state, "download", None, ApiError(401, "Unauthorized"))
        with state.lock:
            file_id = state.paths.get(file_path)
            stored = state.files.get(file_id) if file_id else None
        if stored is None:
            return _failure(state, "download", None, ApiError(404, "Not Found"))
        state.record_call("download", None, 200)
        return Response(stored.data, 200, mimetype=stored.mime_type)

    return bp


def _failure(state: FakeTelegramState, method: str, chat_id: int | None, error: ApiError) -> Any:
    state.record_call(method, chat_id, error.code, error.description)
    body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return jsonify(body), error.code


def _injected(state: FakeTelegramState, method: str, chat_id: int | None, rule: FaultRule) -> Any:
    """A fault rule's answer: ``body`` as a raw page, else the Bot API's error shape with ``error_code``
    (default: ``http_status``, else 500) and its standard description."""
    if rule.body is not None:
        status = rule.http_status or 502
        state.record_call(method, chat_id, status, "injected page")
        return Response(rule.body, status, mimetype="text/html")
    code = int(rule.error_code) if str(rule.error_code).isdigit() else rule.http_status or 500
    description = rule.description or HTTP_STATUS_CODES.get(code, "Injected failure")
    state.record_call(method, chat_id, code, description)
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if rule.retry_after is not None:
        body["parameters"] = {"retry_after": rule.retry_after}
    return jsonify(body), rule.http_status or code


def _params() -> Params:
    """Parameters as the Bot API takes them: query string, form fields (multipart too) or a JSON body."""
    params: Params = {**request.args.to_dict(), **request.form.to_dict()}
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            params.update(body)
    raw = params.get("chat_id")
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        params["chat_id"] = int(raw)
    return params


def _chat_id(params: Params) -> int:
    chat_id = params.get("chat_id")
    if isinstance(chat_id, bool) or not isinstance(chat_id, int):
        raise ApiError(400, "Bad Request: chat not found")
    return chat_id


def _gate(state: FakeTelegramState, chat_id: int, method: str, items: int) -> None:
    """Blocked chats, then flood limits; call with the lock held, right before recording."""
    if chat_id in state.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    limited = state.admit(chat_id, method, items)
    if limited is not None:
        retry_after = limited[0]
        raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


class _Photo:
    """A photo to send: uploaded bytes (inspected) or a photo the fake already holds."""

    def __init__(self, data: bytes | None = None, existing: StoredFile | None = None) -> None:
        self.existing = existing
        self.data = data
        if data is not None:
            self.info = inspect_photo(data)
            self.thumb = thumbnail(data)

    def store(self, state: FakeTelegramState) -> tuple[StoredFile, list[dict[str, Any]]]:
        if self.existing is not None:
            sizes = state.photo_sizes.get(self.existing.file_id) or [self.existing.photo_size()]
            return self.existing, sizes
        assert self.data is not None
        extension = PHOTO_EXTENSIONS.get(self.info.format, ".jpg")
        return state.store_photo(self.data, self.info.width, self.info.height, extension, self.thumb)

    def record(self, stored: StoredFile) -> dict[str, Any]:
        if self.existing is not None:
            return {"file_id": stored.file_id, "sha256": hashlib.sha256(stored.data).hexdigest(), "width": stored.width,
                    "height": stored.height, "size": len(stored.data), "prompt": None, "reused": True}
        return {"file_id": stored.file_id, "sha256": self.info.sha256, "width": self.info.width,
                "height": self.info.height, "size": self.info.size, "format": self.info.format,
                "prompt": self.info.prompt}


def _resolve_photo(state: FakeTelegramState, value: Any) -> _Photo:
    """``value`` is uploaded bytes, ``attach://<field>``, a file_id the fake knows, or (refused) a URL."""
    if isinstance(value, bytes):
        return _Photo(data=value)
    if not isinstance(value, str) or not value:
        raise Refused("Bad Request: there is no photo in the request")
    if value.startswith("attach://"):
        upload = request.files.get(value.removeprefix("attach://"))
        if upload is None:
            raise Refused("Bad Request: MEDIA_EMPTY", "MEDIA_EMPTY")
        return _Photo(data=upload.read())
    if value.startswith(("http://", "https://")):
        raise Refused("Bad Request: the sandbox does not fetch photos by URL: upload the bytes", "URL_REFUSED")
    with state.lock:
        existing = state.files.get(value)
    if existing is None or existing.width is None:
        raise Refused("Bad Request: wrong file identifier/HTTP URL specified", "FILE_ID_INVALID")
    return _Photo(existing=existing)


def _message(state: FakeTelegramState, chat_id: int, method: str, fields: dict[str, Any],
             record: dict[str, Any]) -> dict[str, Any]:
    """Number, record and return one Message (call with the lock held, after ``_gate``)."""
    message_id = state.next_message_id(chat_id)
    message = {"message_id": message_id, "from": state.bot_user(), "chat": state.chat_object(chat_id),
               "date": int(time.time()), **{k: v for k, v in fields.items() if v is not None}}
    base = {"method": method, "message_id": message_id, "date": message["date"], "media_group_id": None,
            "caption": None, "text": None, "reply_markup": None, "photos": [], "document": None}
    state.record_message(chat_id, {**base, **record})
    return message


def send_message(state: FakeTelegramState, params: Params) -> dict[str, Any]:
    chat_id = _chat_id(params)
    text = check_text(params.get("text"))
    markup = check_reply_markup(params.get("reply_markup"), strict_urls=state.config.strict_button_urls)
    with state.lock:
        _gate(state, chat_id, "sendMessage", 1)
        return _message(state, chat_id, "sendMessage", {"text": text, "reply_markup": markup},
                        {"text": text, "reply_markup": markup})


def send_photo(state: FakeTelegramState, params: Params) -> dict[str, Any]:
    chat_id = _chat_id(params)
    caption = check_caption(params.get("caption"))
    markup = check_reply_markup(params.get("reply_markup"), strict_urls=state.config.strict_button_urls)
    upload = request.files.get("photo")
    photo = _resolve_photo(state, upload.read() if upload is not None else params.get("photo"))
    with state.lock:
        _gate(state, chat_id, "sendPhoto", 1)
        stored, sizes = photo.store(state)
        return _message(state, chat_id, "sendPhoto", {"photo": sizes, "caption": caption, "reply_markup": markup},
                        {"caption": caption, "reply_markup": markup, "photos": [photo.record(stored)]})


def send_media_group(state: FakeTelegramState, params: Params, limit: int | None = None) -> list[dict[str, Any]]:
    """``limit``: deliver only the first ``limit`` items (a fault rule's ``partial``)."""
    chat_id = _chat_id(params)
    media = params.get("media")
    if isinstance(media, str):
        try:
            media = json.loads(media)
        except ValueError:
            raise Refused("Bad Request: can't parse media JSON object") from None
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise Refused("Bad Request: media group must contain 2-10 items")
    photos: list[_Photo] = []
    captions: list[str | None] = []
    for number, item in enumerate(media, start=1):
        try:
            if not isinstance(item, dict) or item.get("type") != "photo":
                raise Refused("Bad Request: the sandbox takes albums of photos only", "MEDIA_INVALID")
            caption = check_caption(item.get("caption"))
            if caption is not None and number > 1:
                # Stricter than Telegram on purpose: our albums carry one caption, on the first photo.
                raise Refused("Bad Request: only the first item may carry a caption", "CAPTION_NOT_FIRST")
            photos.append(_resolve_photo(state, item.get("media")))
            captions.append(caption)
        except Refused as refused:
            # One bad item fails the whole group, as on Telegram.
            reason = refused.reason or refused.description
            raise Refused(f'Bad Request: failed to send message #{number} with the error message "{reason}"',
                          reason) from None
    with state.lock:
        if limit is not None:
            photos, captions = photos[:limit], captions[:limit]
        _gate(state, chat_id, "sendMediaGroup", len(photos))
        group_id = state.next_media_group_id()
        messages = []
        for photo, caption in zip(photos, captions, strict=True):
            stored, sizes = photo.store(state)
            messages.append(_message(state, chat_id, "sendMediaGroup",
                                     {"media_group_id": group_id, "photo": sizes, "caption": caption},
                                     {"media_group_id": group_id, "caption": caption,
                                      "photos": [photo.record(stored)]}))
        return messages


def send_document(state: FakeTelegramState, params: Params) -> dict[str, Any]:
    chat_id = _chat_id(params)
    caption = check_caption(params.get("caption"))
    upload = request.files.get("document")
    if upload is None:
        raise Refused("Bad Request: there is no document in the request")
    data = upload.read()
    if not data:
        raise Refused("Bad Request: file must be non-empty")
    if len(data) > DOCUMENT_MAX_BYTES:
        raise ApiError(413, "Request Entity Too Large")
    name = upload.filename or "document"
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    with state.lock:
        _gate(state, chat_id, "sendDocument", 1)
        stored = state.store_file(data, folder="documents", extension="." + name.rsplit(".", 1)[-1]
                                  if "." in name else "", mime_type=mime, file_name=name)
        document = {"file_name": name, "mime_type": mime, "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id, "file_size": len(data)}
        return _message(state, chat_id, "sendDocument", {"document": document, "caption": caption},
                        {"caption": caption, "document": {**document, "sha256": hashlib.sha256(data).hexdigest()}})


def get_file(state: FakeTelegramState, params: Params) -> dict[str, Any]:
    with state.lock:
        stored = state.files.get(str(params.get("file_id") or ""))
    if stored is None:
        raise Refused("Bad Request: invalid file_id")
    if len(stored.data) > DOWNLOAD_MAX_BYTES:
        raise Refused("Bad Request: file is too big")
    return stored.file_object()


def get_me(state: FakeTelegramState, params: Params) -> dict[str, Any]:
    return {**state.bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


METHODS: dict[str, Callable[[FakeTelegramState, Params], Any]] = {
    "sendMessage": send_message, "sendPhoto": send_photo, "sendMediaGroup": send_media_group,
    "sendDocument": send_document, "getFile": get_file, "getMe": get_me, **SETUP_METHODS, **STARS_METHODS,
}
