"""The Telegram gateway's bot-settings methods against the fake: webhook, command menu, chat menu button —
the Bot API's shapes, and what Telegram refuses refused the same way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from gateways.telegram import BotCommand, TelegramClient, TelegramError, web_app_menu_button
from sandbox.client import SandboxClient
from sandbox.server import ServerHandle, serve
from sandbox.telegram import FakeTelegramState, TelegramFakeConfig, create_app

TOKEN = "100000:SANDBOX-bot-token"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[ServerHandle, FakeTelegramState]]:
    app = create_app(TelegramFakeConfig(bot_token=TOKEN))
    handle = serve("telegram", app, port=0)
    yield handle, app.extensions["fake"]
    handle.stop()


@pytest.fixture
def url(fake_server: tuple[ServerHandle, FakeTelegramState]) -> str:
    fake_server[1].reset()
    return fake_server[0].url


@pytest.fixture
def client(url: str) -> Iterator[TelegramClient]:
    client = TelegramClient(url, TOKEN)
    yield client
    client.close()


def _state(url: str) -> dict[str, Any]:
    return SandboxClient(telegram=url).telegram.state()


def _configure(url: str, **knobs: Any) -> None:
    SandboxClient(telegram=url).telegram.configure(**knobs)


def test_webhook_info_shows_url_and_update_types_but_never_the_secret(client: TelegramClient, url: str) -> None:
    assert client.get_webhook_info().url == ""
    client.set_webhook("https://bot.example.com/webhooks/telegram", "s3cret_A", allowed_updates=["message"])

    info = client.get_webhook_info()
    assert (info.url, info.allowed_updates, info.pending_update_count) == (
        "https://bot.example.com/webhooks/telegram", ("message",), 0)
    raw = requests.post(f"{url}/bot{TOKEN}/getWebhookInfo", timeout=5).json()["result"]
    assert "secret_token" not in raw and "s3cret_A" not in str(raw)
    webhook = _state(url)["webhook"]
    assert (webhook["url"], webhook["secret_token"], webhook["allowed_updates"]) == (
        "https://bot.example.com/webhooks/telegram", "s3cret_A", ["message"])


def test_set_webhook_without_update_types_keeps_the_earlier_ones(client: TelegramClient) -> None:
    client.set_webhook("https://bot.example.com/hook", "one", allowed_updates=["message", "my_chat_member"])
    client.set_webhook("https://bot.example.com/hook", "two")
    assert client.get_webhook_info().allowed_updates == ("message", "my_chat_member")


@pytest.mark.parametrize(("hook", "reason"), [
    ("http://bot.example.com/hook", "An HTTPS URL must be provided"),
    ("http://localhost:8000/hook", "An HTTPS URL must be provided"),
    ("https://bot.example.com:8000/hook", "only on ports 80, 88, 443 or 8443"),
])
def test_webhooks_telegram_would_refuse_are_a_permanent_400(client: TelegramClient, url: str, hook: str,
                                                            reason: str) -> None:
    with pytest.raises(TelegramError) as caught:
        client.set_webhook(hook, "secret")
    assert (caught.value.code, caught.value.retryable) == (400, False) and reason in caught.value.message
    assert _state(url)["webhook"] is None


def test_plain_http_webhook_is_accepted_on_127_0_0_1_only_for_the_sandbox(client: TelegramClient) -> None:
    client.set_webhook("http://127.0.0.1:8123/webhooks/telegram", "secret")
    assert client.get_webhook_info().url == "http://127.0.0.1:8123/webhooks/telegram"


def test_failed_delivery_shows_as_the_webhook_last_error(client: TelegramClient, url: str) -> None:
    client.set_webhook("http://127.0.0.1:9/webhooks/telegram", "secret")  # nothing listens on port 9
    SandboxClient(telegram=url).telegram.send_text(5, "/start")
    assert client.get_webhook_info().last_error_message


def test_commands_round_trip_in_the_default_scope(client: TelegramClient, url: str) -> None:
    assert client.get_my_commands() == []
    commands = [BotCommand("start", "Начать"), BotCommand("status", "Как идёт ваш последний заказ")]
    client.set_my_commands(commands)

    assert client.get_my_commands() == commands
    assert _state(url)["commands"] == {"default": [{"command": "start", "description": "Начать"},
                                                   {"command": "status",
                                                    "description": "Как идёт ваш последний заказ"}]}
    other_scope = requests.post(f"{url}/bot{TOKEN}/getMyCommands",
                                json={"scope": {"type": "all_group_chats"}, "language_code": "en"}, timeout=5)
    assert other_scope.json() == {"ok": True, "result": []}


@pytest.mark.parametrize("bad", [BotCommand("/start", "Начать"), BotCommand("Start", "Начать"),
                                 BotCommand("start", " "), BotCommand("s" * 33, "Начать")])
def test_commands_telegram_would_refuse_are_refused_before_any_call(client: TelegramClient, url: str,
                                                                    bad: BotCommand) -> None:
    with pytest.raises(TelegramError) as caught:
        client.set_my_commands([bad])
    assert caught.value.code == 400 and _state(url)["call_counts"] == {}


def test_the_fake_refuses_a_malformed_command_as_telegram_does(url: str) -> None:
    answer = requests.post(f"{url}/bot{TOKEN}/setMyCommands",
                           json={"commands": [{"command": "/start", "description": "x"}]}, timeout=5)
    assert answer.status_code == 400 and answer.json()["description"] == "Bad Request: BOT_COMMAND_INVALID"


def test_menu_button_starts_as_commands_and_a_web_app_button_round_trips(client: TelegramClient, url: str) -> None:
    assert client.get_chat_menu_button() == {"type": "commands"}
    button = web_app_menu_button("Открыть PinGlass", "https://pinglass.example/app/")
    client.set_chat_menu_button(button)

    assert client.get_chat_menu_button() == button
    assert client.get_chat_menu_button(chat_id=42) == button  # a chat without its own button shows the bot's
    assert _state(url)["menu_buttons"] == {"default": button}
    client.set_chat_menu_button({"type": "commands"}, chat_id=42)
    assert client.get_chat_menu_button(chat_id=42) == {"type": "commands"}
    assert client.get_chat_menu_button() == button


def test_web_app_menu_button_must_be_https_except_sandbox_loopback(client: TelegramClient, url: str) -> None:
    client.set_chat_menu_button(web_app_menu_button("Открыть", "http://127.0.0.1:8000/app/"))
    for bad in ("http://pinglass.example/app/", "http://localhost:8000/app/", "ftp://pinglass.example/"):
        with pytest.raises(TelegramError) as caught:
            client.set_chat_menu_button(web_app_menu_button("Открыть", bad))
        assert (caught.value.code, caught.value.retryable) == (400, False)
    _configure(url, strict_button_urls=True)  # as real Telegram: no plain HTTP, no loopback at all
    with pytest.raises(TelegramError):
        client.set_chat_menu_button(web_app_menu_button("Открыть", "http://127.0.0.1:8000/app/"))
    assert _state(url)["menu_buttons"]["default"]["web_app"]["url"] == "http://127.0.0.1:8000/app/"


def test_settings_calls_share_the_gateways_retry_semantics(client: TelegramClient, url: str) -> None:
    SandboxClient(telegram=url).telegram.fail(method="getMyCommands")
    with pytest.raises(TelegramError) as caught:
        client.get_my_commands()
    assert caught.value.retryable and caught.value.code == 500
    assert client.get_my_commands() == []
