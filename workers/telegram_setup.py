"""``python -m workers.telegram_setup``: register the bot's entry points at Telegram, idempotently.

Three items, each read first and set only when it differs, one line printed per item (``webhook: set`` /
``webhook: unchanged``, ``commands: …``, ``menu button: …``):
- the webhook: ``<PUBLIC_BASE_URL>/webhooks/telegram`` with ``TELEGRAM_WEBHOOK_SECRET`` and the update types
  ``actors.bot`` handles;
- the command menu: ``actors.bot_texts.COMMANDS`` (the default scope, every language);
- the chat menu button: the Mini App at ``<PUBLIC_BASE_URL>/app/``.

Telegram never tells the webhook's secret token back (getWebhookInfo has no such field), so comparing what it
shows would miss a rotated secret and leave every update refused. The command therefore keeps a fingerprint of
the webhook it last set (URL, secret, update types) in Redis; when that is missing or different, the webhook is
set again — one harmless extra call after Redis lost its data, never a stale secret.

Exit status: 0 when all three are as configured; 1 when Telegram refused (or failed after retries) or Redis could
not be reached, with the reason on stderr; 2 on bad configuration (outside sandbox mode that includes a
PUBLIC_BASE_URL that is not https on port 443, 80, 88 or 8443: Telegram delivers webhooks nowhere else).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import redis

from gateways.telegram import BotCommand, TelegramClient, TelegramError, web_app_menu_button, webhook_url_problem
from rules.bot_texts import COMMANDS
from settings import Settings, SettingsError

# The update types actors.bot handles: messages (commands, photos, documents) and my_chat_member (the user
# blocked or unblocked the bot). Anything else would only be stored and ignored.
ALLOWED_UPDATES = ("message", "my_chat_member")
MENU_BUTTON_TEXT = "Открыть PinGlass"
ATTEMPTS = 3

T = TypeVar("T")


def webhook_fingerprint(url: str, secret: str, allowed_updates: tuple[str, ...]) -> str:
    """What identifies a webhook registration, the secret included, without storing the secret itself."""
    return hashlib.sha256("\n".join((url, secret, ",".join(sorted(allowed_updates)))).encode()).hexdigest()


def fingerprint_key(settings: Settings) -> str:
    bot_id = settings.telegram_bot_token.split(":", 1)[0]
    return f"{settings.broker_namespace}:telegram-setup:{bot_id}:webhook"


def register(settings: Settings, client: TelegramClient, store: redis.Redis,
             report: Callable[[str], None] = print) -> None:
    """Bring the webhook, the command menu and the menu button to the configured state; report one line each.

    Raises TelegramError when Telegram refuses (after retrying what a retry can help), redis.RedisError when the
    fingerprint store is unreachable.
    """
    url = settings.callback_url("/webhooks/telegram")
    fingerprint = webhook_fingerprint(url, settings.telegram_webhook_secret, ALLOWED_UPDATES)
    key = fingerprint_key(settings)
    info = _retrying(client.get_webhook_info)
    stored = store.get(key)
    if (info.url == url and set(info.allowed_updates or ()) == set(ALLOWED_UPDATES)
            and isinstance(stored, bytes) and stored.decode() == fingerprint):
        report("webhook: unchanged")
    else:
        _retrying(client.set_webhook, url, settings.telegram_webhook_secret, allowed_updates=list(ALLOWED_UPDATES))
        store.set(key, fingerprint)
        report("webhook: set")

    commands = [BotCommand(command, description) for command, description in COMMANDS]
    if _retrying(client.get_my_commands) == commands:
        report("commands: unchanged")
    else:
        _retrying(client.set_my_commands, commands)
        report("commands: set")

    button = web_app_menu_button(MENU_BUTTON_TEXT, settings.public_url("/app/"))
    if _retrying(client.get_chat_menu_button) == button:
        report("menu button: unchanged")
    else:
        _retrying(client.set_chat_menu_button, button)
        report("menu button: set")


def https_problem(settings: Settings) -> str | None:
    """Outside sandbox mode Telegram takes only an https webhook on 443/80/88/8443 and an https Web App button:
    what in CALLBACK_BASE_URL (the webhook) or PUBLIC_BASE_URL (the button) stops that, or None. (The gateway
    refuses the calls too; this names the variable.)"""
    if settings.sandbox_mode:
        return None
    for variable, url in (("CALLBACK_BASE_URL" if settings.callback_base_url else "PUBLIC_BASE_URL",
                           settings.callback_url("/webhooks/telegram")),
                          ("PUBLIC_BASE_URL", settings.public_url("/webhooks/telegram"))):
        problem = webhook_url_problem(url)
        if problem:
            return f"{variable}: {problem} (Telegram's rule)"
    return None


def _retrying(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call`` again after a retryable failure (429: after exactly ``retry_after``), at most ATTEMPTS times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call(*args, **kwargs)
        except TelegramError as err:
            if not err.retryable or attempt == ATTEMPTS:
                raise
            time.sleep(err.retry_after if err.retry_after is not None else attempt)
    raise AssertionError("unreachable")


def main(environ: Mapping[str, str]) -> int:
    try:
        settings = Settings.from_env(environ)
        settings.check_for_production()
    except SettingsError as exc:
        print(f"telegram_setup: bad configuration: {exc}", file=sys.stderr)
        return 2
    problem = https_problem(settings)
    if problem:
        print(f"telegram_setup: bad configuration: {problem}", file=sys.stderr)
        return 2
    client = TelegramClient(settings.telegram_api_base, settings.telegram_bot_token,
                            https_only=not settings.sandbox_mode)
    store = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        register(settings, client, store)
    except TelegramError as err:
        print(f"telegram_setup: Telegram refused — {err.message}", file=sys.stderr)
        return 1
    except redis.RedisError as exc:
        print(f"telegram_setup: Redis is unreachable ({type(exc).__name__}); the webhook's fingerprint lives "
              "there", file=sys.stderr)
        return 1
    finally:
        client.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
