"""``python -m workers.telegram_setup`` against the Telegram fake: the webhook (URL, secret, update types), the
command menu and the Mini App menu button end up exactly as configured, a second run changes nothing, a rotated
secret is registered again, and a refusal exits non-zero saying why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from sandbox.client import SandboxClient
from settings import Settings
from tests.factories import settings_env

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [{"command": "start", "description": "Начать и открыть приложение PinGlass"},
            {"command": "status", "description": "Как идёт ваш последний заказ"},
            {"command": "help", "description": "Что я умею"}]


def run_setup(settings: Settings, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workers.telegram_setup"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=settings_env(settings, **env))


def telegram_state(settings: Settings) -> dict[str, Any]:
    return SandboxClient.from_settings(settings).telegram.state()


def test_running_twice_registers_webhook_commands_and_menu_once(settings: Settings, live_web: str) -> None:
    first = run_setup(settings)
    assert (first.returncode, first.stdout.splitlines()) == (0, ["webhook: set", "commands: set",
                                                                 "menu button: set"]), first.stderr
    state = telegram_state(settings)
    webhook = state["webhook"]
    assert (webhook["url"], webhook["secret_token"], webhook["allowed_updates"]) == (
        f"{live_web}/webhooks/telegram", settings.telegram_webhook_secret, ["message", "my_chat_member"])
    assert state["commands"] == {"default": COMMANDS}
    assert state["menu_buttons"] == {"default": {"type": "web_app", "text": "Открыть PinGlass",
                                                 "web_app": {"url": f"{live_web}/app/"}}}

    second = run_setup(settings)
    assert (second.returncode, second.stdout.splitlines()) == (0, ["webhook: unchanged", "commands: unchanged",
                                                                   "menu button: unchanged"]), second.stderr
    again = telegram_state(settings)
    assert (again["webhook"], again["commands"], again["menu_buttons"]) == (webhook, state["commands"],
                                                                            state["menu_buttons"])
    counts = again["call_counts"]
    assert (counts["setWebhook"], counts["setMyCommands"], counts["setChatMenuButton"]) == (1, 1, 1)

    # The registered secret is the one our webhook checks: Telegram's next update is accepted.
    delivered = SandboxClient.from_settings(settings).telegram.send_text(700_123, "/help")
    assert [d["status"] for d in delivered["deliveries"]] == [200]


def test_a_rotated_secret_is_registered_again_though_telegram_never_shows_it(settings: Settings,
                                                                             redis_client: Any) -> None:
    assert run_setup(settings).returncode == 0
    rotated = run_setup(settings, TELEGRAM_WEBHOOK_SECRET="rotated-secret-2")
    assert rotated.stdout.splitlines() == ["webhook: set", "commands: unchanged", "menu button: unchanged"]
    assert telegram_state(settings)["webhook"]["secret_token"] == "rotated-secret-2"

    for key in redis_client.scan_iter(match=f"{settings.broker_namespace}:telegram-setup:*"):
        redis_client.delete(key)  # Redis lost its data: the webhook is set once more, never assumed right
    assert run_setup(settings, TELEGRAM_WEBHOOK_SECRET="rotated-secret-2").stdout.splitlines()[0] == "webhook: set"


def test_a_refusal_exits_non_zero_and_says_what_telegram_said(settings: Settings) -> None:
    refused = run_setup(settings, PUBLIC_BASE_URL=f"http://localhost:{settings.web_port}")

    assert refused.returncode == 1 and refused.stdout == ""
    assert "Telegram refused — setWebhook: Bad Request: bad webhook: An HTTPS URL must be provided" in refused.stderr
    assert settings.telegram_bot_token not in refused.stderr + refused.stdout
    assert telegram_state(settings)["webhook"] is None


def test_a_refused_menu_button_is_reported_after_the_items_already_set(settings: Settings) -> None:
    SandboxClient.from_settings(settings).telegram.configure(strict_button_urls=True)
    refused = run_setup(settings)

    assert refused.returncode == 1
    assert refused.stdout.splitlines() == ["webhook: set", "commands: set"]
    assert "Telegram refused — setChatMenuButton: Bad Request: invalid web app URL" in refused.stderr
