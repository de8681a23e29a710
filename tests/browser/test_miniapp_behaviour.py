"""How the Mini App behaves beyond the happy path: inside Telegram it drives the native MainButton, BackButton
and openLink; a flaky network is retried, and so is a selfie the server was too busy to check; user data is
shown as text, never run as HTML."""

from __future__ import annotations

import json
import threading

from playwright.sync_api import Route, expect

from db import avatars
from tests.browser.conftest import ConsoleGuard, launch_fragment, new_page, wait_for
from tests.conftest import tma_header
from tests.factories import make_avatar, make_user, selfie
from tests.web.api_helpers import full_upload_room

# A stand-in for telegram-web-app.js with the same surface our code uses; it records what the app asks of it.
FAKE_WEBAPP = """
(() => {
  const calls = [];
  const button = (name) => {
    const handlers = new Set();
    return { text: "", isVisible: false, isActive: true,
      setText(t) { this.text = t; calls.push([name, "setText", t]); },
      show() { this.isVisible = true; calls.push([name, "show"]); },
      hide() { this.isVisible = false; calls.push([name, "hide"]); },
      enable() { this.isActive = true; }, disable() { this.isActive = false; },
      showProgress() {}, hideProgress() {},
      onClick(fn) { handlers.add(fn); }, offClick(fn) { handlers.delete(fn); },
      press() { handlers.forEach((fn) => fn()); } };
  };
  window.__telegram = { calls };
  window.Telegram = { WebApp: {
    initData: %(init)s, initDataUnsafe: { start_param: "" }, version: "8.0", platform: "android",
    colorScheme: "dark", themeParams: %(theme)s,
    ready() { calls.push(["ready"]); }, expand() { calls.push(["expand"]); }, close() { calls.push(["close"]); },
    onEvent() {}, isVersionAtLeast() { return true; },
    MainButton: button("MainButton"), BackButton: button("BackButton"),
    openLink(url) { calls.push(["openLink", url]); },
    openTelegramLink(url) { calls.push(["openTelegramLink", url]); },
    showConfirm(message, cb) { calls.push(["showConfirm", message]); cb(true); },
    downloadFile(params) { calls.push(["downloadFile", params.url]); },
    HapticFeedback: { notificationOccurred() {} },
  } };
})();
"""


def test_inside_telegram_the_app_uses_the_native_buttons_and_opens_the_bank_in_telegram(
        browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=53_000_001)
    avatar = make_avatar(services, user)
    init = tma_header(settings, 53_000_001)["Authorization"][4:]
    theme = {"bg_color": "#212d3b", "text_color": "#ffffff", "button_color": "#5288c1"}
    context, page = new_page(browser, guard, theme="dark")
    page.add_init_script(FAKE_WEBAPP % {"init": json.dumps(init), "theme": json.dumps(theme)})
    page.goto(f"{live_web}/app/")

    expect(page.get_by_role("heading", name="AI-портреты по вашим селфи")).to_be_visible()
    expect(page.locator("#bottom")).to_be_hidden()  # no page button: Telegram's MainButton is used
    main = page.evaluate("() => Telegram.WebApp.MainButton")
    assert main["text"] == "Создать портреты" and main["isVisible"] is True
    topbar = page.evaluate("getComputedStyle(document.getElementById(\"topbar\")).backgroundColor")
    assert topbar == "rgb(33, 45, 59)"  # Telegram's bg_color

    page.evaluate("() => Telegram.WebApp.MainButton.press()")  # to the ready avatar's order
    expect(page.get_by_role("heading", name="Стиль и пакет")).to_be_visible()
    assert page.evaluate("() => Telegram.WebApp.BackButton.isVisible") is True
    expect(page.locator("#back")).to_be_hidden()
    page.evaluate("() => Telegram.WebApp.MainButton.press()")  # pay
    expect(page.get_by_role("heading", name="Ждём оплату")).to_be_visible()
    opened = [c[1] for c in page.evaluate("() => __telegram.calls") if c[0] == "openLink"]
    assert len(opened) == 1 and "/pay/" in opened[0]  # the bank's page, in Telegram's browser
    calls = [c[0] for c in page.evaluate("() => __telegram.calls")]
    assert calls[:2] == ["ready", "expand"]
    assert avatar["id"]
    context.close()
    guard.assert_clean()


def test_a_flaky_network_is_retried_until_the_screen_loads(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    make_user(services, telegram_id=53_000_002)
    failures = {"left": 2}

    def flaky(route: Route) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            route.abort("connectionreset")
        else:
            route.continue_()

    context, page = new_page(browser, guard)
    page.route("**/api/v1/home", flaky)  # the home screen's one call
    page.goto(f"{live_web}/app/" + launch_fragment(settings, 53_000_002))
    expect(page.get_by_text("Заказов пока нет.")).to_be_visible(timeout=10_000)
    assert failures["left"] == 0
    # The browser reports each aborted request; those two are the failures this test made.
    dropped = [e for e in guard.errors if "ERR_CONNECTION_RESET" in e]
    assert len(dropped) == 2
    for error in dropped:
        guard.errors.remove(error)
    context.close()
    guard.assert_clean()


def test_a_name_that_looks_like_html_is_shown_as_text_and_never_runs(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=53_000_003)
    hostile = '<img src=x onerror="window.__xss=1">Аня'
    with services.pool.connection() as conn, conn.transaction():
        avatars.insert_avatar(conn, user_id=user["id"], name=hostile)
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, 53_000_003))
    expect(page.get_by_text(hostile, exact=True)).to_be_visible()
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    context.close()
    guard.assert_clean()


def test_a_selfie_refused_for_a_busy_server_is_sent_again_after_its_wait(browser, services, settings, live_web):
    """503 UPLOADS_BUSY (the upload waiting room full) means nothing was stored: the Mini App says the file waits
    its turn, sends it again after Retry-After, and the person sees it added, no error."""
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=53_000_007)
    with services.pool.connection() as conn, conn.transaction():
        avatar = avatars.insert_avatar(conn, user_id=user["id"], name="очередь")
    refused = threading.Event()
    context, page = new_page(browser, guard)
    page.on("response", lambda r: refused.set() if "/references" in r.url and r.status == 503 else None)
    with full_upload_room():
        page.goto(f"{live_web}/app/" + launch_fragment(settings, 53_000_007, path=f"/avatars/{avatar['id']}"))
        page.locator("#pick").set_input_files([{"name": "me.jpg", "mimeType": "image/jpeg", "buffer": selfie(11)}])
        wait_for(page, refused, "a refusal for want of a turn")
        expect(page.get_by_text("Ждём очереди на проверку…")).to_be_visible(timeout=5_000)  # not an error
    expect(page.get_by_text("1 из 15 — нужно ещё 4")).to_be_visible(timeout=20_000)
    guard.take_expected(503, "/references", 1)
    context.close()
    guard.assert_clean()
