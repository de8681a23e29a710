"""The Telegram Bot API fake: ``create_app(config)`` serves ``/bot<token>/<method>`` and file downloads
(``sandbox.telegram.app`` documents it)."""

from sandbox.telegram.app import create_app
from sandbox.telegram.state import DEFAULT_BOT_TOKEN, FakeTelegramState, TelegramFakeConfig, config_from_env

__all__ = ["DEFAULT_BOT_TOKEN", "FakeTelegramState", "TelegramFakeConfig", "config_from_env", "create_app"]
