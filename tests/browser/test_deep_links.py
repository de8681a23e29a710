"""Every /app/ URL the fleet hands out opens its screen: the bot's /start button, the gallery button under a
delivered album, T-Bank's success and fail return URLs — each read from what the fleet really sent (the fake
Telegram's chat, the fake bank's Init request), not retyped here. Also: the development login, an expired
session, a URL opened outside Telegram, and the page's Content-Security-Policy."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import expect

from sandbox.client import SandboxClient
from tests.browser.conftest import ConsoleGuard, launch_fragment, new_page, screenshot
from tests.conftest import tma_header
from tests.factories import accept_privacy, make_avatar, make_user
from tests.integration.pipeline_helpers import chat_messages
from tests.web.api_helpers import make_delivered_job
from usecases.delivery import summary_buttons
from web.miniapp import THEMES


def telegram_opens(url: str, fragment: str) -> str:
    """The URL as a Telegram client opens a web_app button: its launch parameters joined to the URL's hash."""
    if "#" not in url:
        return url + fragment
    return url + ("&" if "?" in url.split("#", 1)[1] else "?") + fragment.lstrip("#")


def test_the_bots_start_button_opens_home(browser, services, settings, live_web, worker):
    guard = ConsoleGuard(live_web)
    services.telegram.set_webhook(f"{live_web}/webhooks/telegram", settings.telegram_webhook_secret)
    SandboxClient.from_settings(settings).telegram.send_text({"id": 52_000_001, "first_name": "Ира"}, "/start")
    deadline = time.monotonic() + 15
    buttons = []
    while not buttons and time.monotonic() < deadline:
        buttons = [b for m in chat_messages(services, 52_000_001) if m.get("reply_markup")
                   for row in m["reply_markup"]["inline_keyboard"] for b in row if "web_app" in b]
        time.sleep(0.1)
    [button] = buttons
    context, page = new_page(browser, guard)
    page.goto(telegram_opens(button["web_app"]["url"], launch_fragment(settings, 52_000_001)))
    expect(page.get_by_role("heading", name="AI-портреты по вашим селфи")).to_be_visible()
    expect(page.get_by_role("button", name="Создать аватар")).to_be_visible()
    context.close()
    guard.assert_clean()


def test_the_albums_gallery_button_opens_the_gallery(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=52_000_002)
    job = make_delivered_job(services, user, make_avatar(services, user))
    gallery_button = summary_buttons(services, job["id"])["inline_keyboard"][0][0]
    context, page = new_page(browser, guard)
    page.goto(telegram_opens(gallery_button["web_app"]["url"], launch_fragment(settings, 52_000_002)))
    expect(page.get_by_role("heading", name="Ваши портреты")).to_be_visible()
    expect(page.locator(".grid img")).to_have_count(job["total_photos"])
    context.close()
    guard.assert_clean()


def test_the_banks_return_urls_open_the_payment_screen(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=52_000_003)
    accept_privacy(services, user)
    avatar = make_avatar(services, user)
    created = requests.post(f"{live_web}/api/v1/payments", headers=tma_header(settings, 52_000_003), timeout=10,
                            json={"avatar_id": avatar["id"], "style_id": "business", "tier": "starter"})
    assert created.status_code == 201, created.text
    bank = SandboxClient.from_settings(settings).tbank.state()
    [init] = [r["body"] for r in bank["requests"] if r["method"] == "Init"]
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, 52_000_003))  # the app was open before the bank
    expect(page.get_by_role("heading", name="AI-портреты по вашим селфи")).to_be_visible()

    page.goto(init["SuccessURL"])
    expect(page.get_by_role("heading", name="Ждём подтверждения банка")).to_be_visible()
    page.goto(init["FailURL"])
    page.reload()
    expect(page.get_by_role("heading", name="Оплата не прошла")).to_be_visible()
    expect(page.get_by_role("button", name="Попробовать снова")).to_be_visible()
    context.close()

    # The same URL in a browser that never had the app open (the bank's page left Telegram): what to do
    context, page = new_page(browser, guard)
    page.goto(init["SuccessURL"])
    expect(page.get_by_role("heading", name="Откройте PinGlass в Telegram")).to_be_visible()
    context.close()
    guard.assert_clean()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_expired_session_is_explained_not_shown_as_an_error(browser, services, settings, live_web, theme):
    guard = ConsoleGuard(live_web)
    context, page = new_page(browser, guard, theme=theme)
    header = tma_header(settings, 52_000_004, auth_date=int(time.time()) - settings.initdata_max_age_s - 60)
    colours = quote(json.dumps(THEMES[theme]), safe="")
    page.goto(f"{live_web}/app/#tgWebAppData={quote(header['Authorization'][4:], safe='')}"
              f"&tgWebAppThemeParams={colours}")
    expect(page.get_by_role("heading", name="Сессия устарела")).to_be_visible()
    expect(page.get_by_text("откройте приложение заново", exact=False)).to_be_visible()
    screenshot(page, f"session-expired-{theme}")
    guard.take_expected(401, "/api/v1/", guard_count(guard))
    context.close()
    guard.assert_clean()


def guard_count(guard: ConsoleGuard) -> int:
    """How many 401s the home's parallel first calls made before the page stopped (at least one)."""
    count = sum("status of 401" in e for e in guard.errors)
    assert count >= 1
    return count


def test_the_development_login_opens_the_app_as_a_test_user(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/dev-login?user=52000005&theme=dark")
    expect(page.get_by_role("heading", name="AI-портреты по вашим селфи")).to_be_visible()
    assert "tgWebAppData" not in page.url  # the initData is kept out of the address bar
    context.close()
    guard.assert_clean()


def test_the_development_login_does_not_exist_outside_sandbox_mode(app, settings):
    app.extensions["pinglass"].settings = settings.with_overrides(sandbox_mode=False)
    response = app.test_client().get("/app/dev-login")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"
    page = app.test_client().get("/app/")
    assert b"telegram.org/js/telegram-web-app.js" in page.data  # production loads Telegram's script


@pytest.mark.parametrize("path", ["/app/"])
def test_the_page_has_a_strict_content_security_policy_and_no_inline_script(client, path):
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self' https://telegram.org" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'self' https://web.telegram.org" in policy
    html = response.get_data(as_text=True)
    assert "<script>" not in html and "onclick=" not in html and "style=" not in html
    assert b"telegram-web-app.js" not in response.data  # sandbox mode: no Telegram to load it from
