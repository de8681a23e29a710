"""The fake Telegram's own controls under ``/_sandbox/`` (beside the shared ones of ``sandbox.control``):
blocked chats, chats and files for inspection, and updates sent to our webhook.

Updates are delivered synchronously, in order, to the URL given to ``setWebhook`` with the header
``X-Telegram-Bot-Api-Secret-Token``; the control call answers with what our webhook answered. Photos a user sends
are stored like any Telegram file, so ``getFile`` and the download URL serve them.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import requests
from flask import Blueprint, Response, current_app, jsonify, request

from sandbox.telegram.botapi import PHOTO_EXTENSIONS
from sandbox.telegram.checks import Refused, inspect_photo, thumbnail
from sandbox.telegram.state import FakeTelegramState

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALBUM_MAX = 10
ANSWER_KEEP_CHARS = 2000


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def fake_state() -> FakeTelegramState:
    """The fake this request is for (``create_app`` keeps it in ``app.extensions["fake"]``)."""
    fake: FakeTelegramState = current_app.extensions["fake"]
    return fake


def answering_control_errors(bp: Blueprint) -> Blueprint:
    """``bp``, answering a ControlError raised by its views as ``{"error": message}`` with its status."""
    bp.register_error_handler(ControlError, lambda error: (jsonify({"error": error.message}), error.status))
    return bp


def control_blueprint() -> Blueprint:
    """The Telegram-only ``/_sandbox/`` routes; the state is ``fake_state()``."""
    bp = answering_control_errors(Blueprint("telegram_control", __name__, url_prefix="/_sandbox"))

    @bp.post("/blocked")
    def post_blocked() -> Any:
        body = _body()
        chat_id = _int(body.get("chat_id"), "chat_id")
        with fake_state().lock:
            if body.get("blocked", True):
                fake_state().blocked.add(chat_id)
            else:
                fake_state().blocked.discard(chat_id)
            return jsonify({"blocked_chats": sorted(fake_state().blocked)})

    @bp.get("/chats/<int(signed=True):chat_id>")
    def get_chat(chat_id: int) -> Any:
        with fake_state().lock:
            return jsonify({"chat_id": chat_id, "blocked": chat_id in fake_state().blocked,
                            "messages": list(fake_state().chats.get(chat_id, []))})

    @bp.get("/files/<file_id>")
    def get_file(file_id: str) -> Any:
        with fake_state().lock:
            stored = fake_state().files.get(file_id)
        if stored is None:
            raise ControlError(404, "no such file")
        return Response(stored.data, 200, mimetype=stored.mime_type)

    @bp.post("/updates/text")
    def post_text_update() -> Any:
        body = _body()
        target = _webhook(fake_state())
        chat_id, user = _sender(body)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise ControlError(400, "text is required")
        with fake_state().lock:
            update = _update(fake_state(), chat_id, user, {"text": text, "entities": _command_entities(text)})
        return jsonify(_deliver(fake_state(), target, [update]))

    @bp.post("/updates/photos")
    def post_photo_update() -> Any:
        body = _body()
        target = _webhook(fake_state())
        chat_id, user = _sender(body)
        images = _images(body.get("images"))
        caption = body.get("caption") if isinstance(body.get("caption"), str) else None
        updates = _photo_updates(fake_state(), chat_id, user, images, caption=caption,
                                 as_album=bool(body.get("as_album", True)),
                                 as_document=bool(body.get("as_document", False)))
        return jsonify(_deliver(fake_state(), target, updates))

    return bp


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError(400, "a JSON object is required")
    return body


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
        raise ControlError(400, f"{name} must be an integer")
    return int(value)


def _sender(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The chat and the user an update comes from; a private chat's id is the user's id."""
    user = body.get("user")
    if not isinstance(user, dict):
        raise ControlError(400, "user must be an object with at least an id")
    user = {"is_bot": False, "first_name": "Sandbox", **user, "id": _int(user.get("id"), "user.id")}
    chat_id = _int(body.get("chat_id", user["id"]), "chat_id")
    return chat_id, user


def _images(raw: Any) -> list[bytes]:
    if not isinstance(raw, list) or not raw:
        raise ControlError(400, "images must be a non-empty list of base64 strings")
    try:
        return [base64.b64decode(item, validate=True) for item in raw]
    except (binascii.Error, TypeError, ValueError):
        raise ControlError(400, "images must be base64") from None


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    command = text.split()[0]
    return [{"type": "bot_command", "offset": 0, "length": len(command)}]


def _update(state: FakeTelegramState, chat_id: int, user: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """One ``message`` update from ``user`` (call with the lock held)."""
    state.users.setdefault(chat_id, user)
    message = {"message_id": state.next_message_id(chat_id), "from": user, "chat": state.chat_object(chat_id),
               "date": int(time.time()), **{k: v for k, v in fields.items() if v not in (None, [])}}
    update = {"update_id": state.next_update_id(), "message": message}
    state.updates.append(update)
    return update


def _photo_updates(state: FakeTelegramState, chat_id: int, user: dict[str, Any], images: list[bytes], *,
                   caption: str | None, as_album: bool, as_document: bool) -> list[dict[str, Any]]:
    """One update per image; an album is split into groups of up to ten sharing a ``media_group_id``."""
    inspected = []
    for number, data in enumerate(images, start=1):
        try:
            info = inspect_photo(data)
        except Refused as refused:
            raise ControlError(400, f"image #{number} would not be accepted: {refused.description}") from None
        inspected.append((data, info, None if as_document else thumbnail(data)))
    updates = []
    with state.lock:
        group_id = None
        for index, (data, info, thumb) in enumerate(inspected):
            if as_album and len(images) > 1 and index % ALBUM_MAX == 0:
                group_id = state.next_media_group_id()
            extension = PHOTO_EXTENSIONS.get(info.format, ".jpg")
            fields: dict[str, Any] = {"media_group_id": group_id, "caption": caption if index == 0 else None}
            if as_document:
                stored = state.store_file(data, folder="documents", extension=extension,
                                          mime_type=f"image/{info.format.lower()}", file_name=f"IMG_{index}{extension}")
                fields["document"] = {"file_name": stored.file_name, "mime_type": stored.mime_type,
                                      "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                                      "file_size": len(data)}
            else:
                fields["photo"] = state.store_photo(data, info.width, info.height, extension, thumb)[1]
            updates.append(_update(state, chat_id, user, fields))
    return updates


def _webhook(state: FakeTelegramState) -> dict[str, Any]:
    """Where and how to deliver updates; refused (409) before anything is recorded when no webhook is set."""
    with state.lock:
        if state.webhook is None:
            raise ControlError(409, "no webhook is set: the bot must call setWebhook first")
        secret = state.webhook.get("secret_token")
        return {"url": state.webhook["url"], "headers": {SECRET_HEADER: secret} if secret else {},
                "copies": 1 + state.config.duplicate_updates, "timeout": state.config.webhook_timeout_ms / 1000}


def _deliver(state: FakeTelegramState, target: dict[str, Any], updates: list[dict[str, Any]]) -> dict[str, Any]:
    """POST each update to our webhook (1 + ``duplicate_updates`` times, in order) and record every answer."""
    deliveries = []
    for update in updates:
        for attempt in range(1, target["copies"] + 1):
            deliveries.append(_post(target["url"], update, target["headers"], target["timeout"], attempt))
    failed = [d for d in deliveries if d["status"] is None or not 200 <= d["status"] < 300]
    with state.lock:
        state.deliveries.extend(deliveries)
        if failed:  # what getWebhookInfo reports as last_error_date / last_error_message
            last = failed[-1]
            state.webhook_last_error = (int(time.time()), f"Wrong response from the webhook: {last['status']}"
                                        if last["status"] is not None else "Connection refused")
    return {"updates": updates, "deliveries": deliveries}


def _post(url: str, update: dict[str, Any], headers: dict[str, str], timeout: float, attempt: int) -> dict[str, Any]:
    started = time.monotonic()
    record: dict[str, Any] = {"update_id": update["update_id"], "attempt": attempt, "status": None, "body": None,
                              "error": None}
    try:
        answer = requests.post(url, json=update, headers=headers, timeout=timeout)
        record.update(status=answer.status_code, body=answer.text[:ANSWER_KEEP_CHARS])
    except requests.RequestException as exc:
        record["error"] = type(exc).__name__
    record["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    return record
