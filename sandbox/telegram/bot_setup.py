"""The fake Bot API's bot-settings methods: the webhook, the command list and the chat menu button.

``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo``, ``setMyCommands`` / ``getMyCommands`` /
``deleteMyCommands`` and ``setChatMenuButton`` / ``getChatMenuButton``, with the Bot API's parameters and result
shapes. As on Telegram, ``getWebhookInfo`` never returns the secret token; the fake's ``/_sandbox/state`` does
(``webhook``, ``commands`` by scope, ``menu_buttons`` by ``"default"`` or chat id), so tests can read it.

Real Telegram takes only HTTPS for a webhook (ports 443, 80, 88, 8443) and for Web App URLs. The sandbox fleet
runs on plain HTTP on loopback, so the fake also accepts ``http://127.0.0.1:<any port>`` — and nothing else
over HTTP; with the ``strict_button_urls`` knob a Web App URL must be public HTTPS, as on Telegram.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sandbox.telegram.checks import LOOPBACK_HOSTS, Refused
from sandbox.telegram.state import FakeTelegramState

Params = dict[str, Any]
WEBHOOK_PORTS = (443, 80, 88, 8443)
SANDBOX_HTTP_HOST = "127.0.0.1"  # the one host the fake accepts over plain HTTP (see the module docstring)
COMMAND = re.compile(r"[a-z0-9_]{1,32}")
COMMANDS_MAX, DESCRIPTION_MAX = 100, 256
MENU_TEXT_MAX = 64
DEFAULT_MAX_CONNECTIONS = 40
DEFAULT_MENU_BUTTON = {"type": "commands"}


def _json_param(params: Params, name: str) -> Any:
    """A parameter that may come as a JSON-serialized string (form fields) or as JSON (a JSON body)."""
    value = params.get(name)
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except ValueError:
            raise Refused(f"Bad Request: can't parse {name} JSON object") from None
    return value


def _sandbox_http(parts: Any) -> bool:
    return parts.scheme == "http" and parts.hostname == SANDBOX_HTTP_HOST


# -- webhook --------------------------------------------------------------------------------------------------

def set_webhook(state: FakeTelegramState, params: Params) -> bool:
    url = str(params.get("url") or "")
    secret = params.get("secret_token")
    if secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 256
                               or not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)):
        raise Refused("Bad Request: secret token contains unallowed characters")
    allowed = _json_param(params, "allowed_updates")
    if allowed is not None and (not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)):
        raise Refused("Bad Request: can't parse allowed_updates JSON object")
    max_connections = params.get("max_connections", DEFAULT_MAX_CONNECTIONS)
    if isinstance(max_connections, str) and max_connections.isdigit():
        max_connections = int(max_connections)
    if isinstance(max_connections, bool) or not isinstance(max_connections, int) or not 1 <= max_connections <= 100:
        raise Refused("Bad Request: bad webhook: max_connections must be 1..100")
    if url:
        _check_webhook_url(url)
    with state.lock:
        if not url:
            state.webhook = None
        else:
            previous = state.webhook or {}
            # Telegram keeps the old allowed_updates when a new setWebhook does not name them.
            state.webhook = {"url": url, "secret_token": secret, "max_connections": max_connections,
                             "allowed_updates": allowed if allowed is not None else previous.get("allowed_updates"),
                             "set_at": time.time()}
    return True


def _check_webhook_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("Bad Request: bad webhook: invalid webhook URL specified") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("Bad Request: bad webhook: invalid webhook URL specified")
    if _sandbox_http(parts):
        return
    if parts.scheme != "https":
        raise Refused("Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    if (port or 443) not in WEBHOOK_PORTS:
        raise Refused("Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")


def delete_webhook(state: FakeTelegramState, params: Params) -> bool:
    with state.lock:
        state.webhook = None
    return True


def get_webhook_info(state: FakeTelegramState, params: Params) -> dict[str, Any]:
    """A WebhookInfo: the URL, never the secret; ``allowed_updates`` only when the bot named them."""
    with state.lock:
        webhook = dict(state.webhook) if state.webhook else None
        last_error = state.webhook_last_error
    if webhook is None:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
    info: dict[str, Any] = {"url": webhook["url"], "has_custom_certificate": False, "pending_update_count": 0,
                            "max_connections": webhook["max_connections"]}
    if webhook.get("allowed_updates") is not None:
        info["allowed_updates"] = list(webhook["allowed_updates"])
    if last_error is not None:
        info["last_error_date"], info["last_error_message"] = last_error
    return info


# -- commands -------------------------------------------------------------------------------------------------

def _commands_key(params: Params) -> str:
    """Where a command list lives: its scope (type, chat, user) and language, e.g. ``default`` or
    ``chat:42/ru``. Telegram keeps one list per scope and language and never mixes them."""
    scope = _json_param(params, "scope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in (
            "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
            "chat_administrators", "chat_member"):
        raise Refused("Bad Request: can't parse BotCommandScope")
    key = str(scope["type"])
    for part in ("chat_id", "user_id"):
        if part in scope:
            key += f":{scope[part]}"
    language = params.get("language_code") or ""
    if not isinstance(language, str) or (language and not re.fullmatch(r"[a-z]{2}", language)):
        raise Refused("Bad Request: invalid language code specified")
    return f"{key}/{language}" if language else key


def set_my_commands(state: FakeTelegramState, params: Params) -> bool:
    commands = _json_param(params, "commands")
    if not isinstance(commands, list) or len(commands) > COMMANDS_MAX:
        raise Refused("Bad Request: can't parse commands JSON object")
    kept = []
    for item in commands:
        if not isinstance(item, dict) or not isinstance(item.get("command"), str) \
                or not COMMAND.fullmatch(item["command"]):
            raise Refused("Bad Request: BOT_COMMAND_INVALID")
        description = item.get("description")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= DESCRIPTION_MAX:
            raise Refused("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        kept.append({"command": item["command"], "description": description})
    key = _commands_key(params)
    with state.lock:
        if kept:
            state.commands[key] = kept
        else:
            state.commands.pop(key, None)
    return True


def get_my_commands(state: FakeTelegramState, params: Params) -> list[dict[str, str]]:
    key = _commands_key(params)
    with state.lock:
        return [dict(c) for c in state.commands.get(key, [])]


def delete_my_commands(state: FakeTelegramState, params: Params) -> bool:
    key = _commands_key(params)
    with state.lock:
        state.commands.pop(key, None)
    return True


# -- menu button ----------------------------------------------------------------------------------------------

def _menu_key(params: Params) -> str:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        return "default"
    if isinstance(chat_id, bool) or not isinstance(chat_id, int):
        raise Refused("Bad Request: chat not found")
    return str(chat_id)


def set_chat_menu_button(state: FakeTelegramState, params: Params) -> bool:
    key = _menu_key(params)
    button = _json_param(params, "menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
        raise Refused("Bad Request: can't parse menu button")
    if button["type"] == "web_app":
        button = _web_app_button(state, button)
    else:
        button = {"type": button["type"]}
    with state.lock:
        if button["type"] == "default":
            state.menu_buttons.pop(key, None)
        else:
            state.menu_buttons[key] = button
    return True


def _web_app_button(state: FakeTelegramState, button: dict[str, Any]) -> dict[str, Any]:
    text, web_app = button.get("text"), button.get("web_app")
    if not isinstance(text, str) or not 1 <= len(text.strip()) <= MENU_TEXT_MAX:
        raise Refused("Bad Request: BUTTON_TEXT_INVALID")
    url = web_app.get("url") if isinstance(web_app, dict) else None
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("Bad Request: BUTTON_URL_INVALID")
    strict = state.config.strict_button_urls
    # Telegram takes HTTPS only; plain HTTP to 127.0.0.1 is the sandbox's allowance, off in strict mode.
    if parts.scheme != "https" and (strict or not _sandbox_http(parts)):
        raise Refused("Bad Request: invalid web app URL: only HTTPS links are allowed")
    if strict and parts.hostname in LOOPBACK_HOSTS:
        raise Refused("Bad Request: BUTTON_URL_INVALID")
    return {"type": "web_app", "text": text, "web_app": {"url": url}}


def get_chat_menu_button(state: FakeTelegramState, params: Params) -> dict[str, Any]:
    """The chat's own button, else the bot's default one, else the command-list button Telegram starts with."""
    key = _menu_key(params)
    with state.lock:
        button = state.menu_buttons.get(key) or state.menu_buttons.get("default") or DEFAULT_MENU_BUTTON
        return json.loads(json.dumps(button))


SETUP_METHODS: dict[str, Callable[[FakeTelegramState, Params], Any]] = {
    "setWebhook": set_webhook, "deleteWebhook": delete_webhook, "getWebhookInfo": get_webhook_info,
    "setMyCommands": set_my_commands, "getMyCommands": get_my_commands, "deleteMyCommands": delete_my_commands,
    "setChatMenuButton": set_chat_menu_button, "getChatMenuButton": get_chat_menu_button,
}
