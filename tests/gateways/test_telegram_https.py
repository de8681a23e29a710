"""Issue 10 item 17: outside sandbox mode the client refuses, before any call, what Telegram would refuse: a
webhook that is not https on 443/80/88/8443, a Web App menu button that is not https."""
from __future__ import annotations

import socket

import pytest

from gateways.telegram import TelegramClient, TelegramError, web_app_menu_button
from settings import Settings
from tests.unit.test_production_secrets import REAL
from workers import telegram_setup

SECRET = "whs-02bd"


@pytest.fixture
def client() -> TelegramClient:
    with socket.socket() as sock:  # nothing listens there: a call that is made fails as a network error
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return TelegramClient(f"http://127.0.0.1:{port}", "123:tok", https_only=True)


def _refused_before_sending(call) -> TelegramError:
    with pytest.raises(TelegramError) as caught:
        call()
    assert caught.value.code == 400 and not caught.value.retryable, caught.value
    return caught.value


@pytest.mark.parametrize("url", ["http://bot.example.com/webhooks/telegram",
                                 "https://bot.example.com:8080/webhooks/telegram",
                                 "https://bot.example.com:8000/webhooks/telegram",
                                 "http://bot.example.com:443/webhooks/telegram"])
def test_a_webhook_telegram_would_not_deliver_to_is_refused(client, url) -> None:
    error = _refused_before_sending(lambda: client.set_webhook(url, SECRET))
    assert "https" in error.message or "port" in error.message


@pytest.mark.parametrize("url", ["https://bot.example.com/webhooks/telegram",
                                 "https://bot.example.com:8443/webhooks/telegram",
                                 "https://bot.example.com:88/webhooks/telegram"])
def test_an_https_webhook_on_an_allowed_port_is_sent(client, url) -> None:
    with pytest.raises(TelegramError) as caught:  # it reached the (closed) network
        client.set_webhook(url, SECRET)
    assert caught.value.code != 400


def test_a_web_app_button_must_be_https(client) -> None:
    _refused_before_sending(lambda: client.set_chat_menu_button(
        web_app_menu_button("Open", "http://bot.example.com/app/")))
    with pytest.raises(TelegramError) as caught:
        client.set_chat_menu_button(web_app_menu_button("Open", "https://bot.example.com/app/"))
    assert caught.value.code != 400


def test_telegram_setup_refuses_an_http_public_url_outside_sandbox_mode(capsys) -> None:
    env = {**REAL, "PUBLIC_BASE_URL": "http://bot.example.com:8000"}
    assert telegram_setup.main(env) == 2
    assert "PUBLIC_BASE_URL" in capsys.readouterr().err


def test_an_http_hooks_url_is_named_by_its_own_variable() -> None:
    env = {**REAL, "PUBLIC_BASE_URL": "https://x.example", "CALLBACK_BASE_URL": "http://hooks.example"}
    assert "CALLBACK_BASE_URL" in (telegram_setup.https_problem(Settings.from_env(env)) or "")
    env["CALLBACK_BASE_URL"] = "https://hooks.example"
    assert telegram_setup.https_problem(Settings.from_env(env)) is None


def test_https_problem_only_outside_sandbox_mode() -> None:
    assert telegram_setup.https_problem(Settings.from_env({**REAL, "PUBLIC_BASE_URL": "https://x.example"})) is None
    assert telegram_setup.https_problem(Settings.from_env({**REAL, "SANDBOX_MODE": "1"})) is None
