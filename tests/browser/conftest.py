"""The Mini App in a real browser: Debian's chromium driven by Playwright (which cannot download its own browser
here), a phone-sized viewport, and a guard that fails the test on any console error of our pages.

Screenshots go to ``out/screens/`` (``<screen>-<theme>.png``), for a reviewer to look at.

``inside_telegram`` puts a stand-in for ``telegram-web-app.js`` into a page: the app then runs as inside Telegram
(MainButton, BackButton, openLink, openInvoice). Its ``openInvoice`` is Telegram's invoice sheet played honestly:
the invoice page of the Telegram fake opens in a popup where the test pays or cancels as a person would, and the
callback gets the status the fake reports for that invoice (polled through ``SandboxClient``), never a fixed one."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from sandbox.client import SandboxClient
from settings import Settings
from tests.conftest import tma_header
from web.miniapp import THEMES

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 390, "height": 844}
SCREENS = Path(__file__).resolve().parents[2] / "out" / "screens"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings in sandbox mode (the Mini App's development login exists only there)."""
    return settings.with_overrides(sandbox_mode=True)


class ConsoleGuard:
    """Collects console errors and uncaught exceptions of pages on our origin. ``expect(n, text)`` allows
    exactly the browser's own "Failed to load resource" lines for API answers a test provokes on purpose."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        where = (message.location or {}).get("url", "")
        if where.startswith(self.origin) or message.page is None or message.page.url.startswith(self.origin):
            self.errors.append(f"{message.type}: {message.text} ({where})")

    def take_expected(self, status: int, path_part: str, count: int) -> None:
        """Remove exactly ``count`` "status of <status>" resource errors whose URL contains ``path_part``."""
        wanted = [e for e in self.errors if f"status of {status}" in e and path_part in e]
        assert len(wanted) == count, f"expected {count} × {status} at {path_part}, console had {self.errors}"
        for error in wanted:
            self.errors.remove(error)

    def assert_clean(self) -> None:
        assert self.errors == [], "console errors:\n" + "\n".join(self.errors)


def launch_fragment(settings: Settings, telegram_id: int, *, path: str = "", start_param: str | None = None,
                    theme: str = "light", first_name: str = "Анна") -> str:
    """The URL hash Telegram opens a Mini App with: our path, then tgWebAppData (signed initData), the version,
    platform, theme and start parameter."""
    init = tma_header(settings, telegram_id, first_name=first_name, start_param=start_param)["Authorization"][4:]
    params = {"tgWebAppData": init, "tgWebAppVersion": "8.0", "tgWebAppPlatform": "android",
              "tgWebAppThemeParams": json.dumps(THEMES[theme], separators=(",", ":"))}
    if start_param:
        params["tgWebAppStartParam"] = start_param
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    if not path:
        return f"#{encoded}"
    return f"#{path}{'&' if '?' in path else '?'}{encoded}"


def new_page(browser: Browser, guard: ConsoleGuard, *, theme: str = "light") -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="ru-RU", color_scheme=theme, accept_downloads=True)
    return context, guard.watch(context.new_page())


def wait_for(page: Page, event: threading.Event, what: str, timeout_s: float = 20) -> None:
    """Let ``page`` run until ``event`` is set (a response handler sets it); fail naming ``what`` after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not event.is_set() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert event.is_set(), f"{what} never came"


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG under out/screens/, after checking that nothing overflows the phone's width."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
    path = SCREENS / f"{name}.png"
    # The whole page, laid out as a phone as tall as the page would show it (a full-page capture of a normal
    # viewport would paint the sticky main button in the middle of the picture).
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": PHONE["width"], "height": max(PHONE["height"], height)})
    try:
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(PHONE)
    return path


# A stand-in for telegram-web-app.js with the surface our code uses; it records what the app asks of it in
# window.__telegram.calls. openInvoice opens the invoice in a popup (Telegram's sheet) and reports the fake's
# status of the invoice once it is no longer pending, or "cancelled" when the sheet is closed unpaid.
TELEGRAM_WEBAPP = """
(() => {
  const calls = [];
  const button = (name) => {
    const handlers = new Set();
    return { text: "", isVisible: false, isActive: true, isProgressVisible: false,
      setText(t) { this.text = t; calls.push([name, "setText", t]); },
      show() { this.isVisible = true; calls.push([name, "show"]); },
      hide() { this.isVisible = false; calls.push([name, "hide"]); },
      enable() { this.isActive = true; }, disable() { this.isActive = false; },
      showProgress() { this.isProgressVisible = true; }, hideProgress() { this.isProgressVisible = false; },
      onClick(fn) { handlers.add(fn); }, offClick(fn) { handlers.delete(fn); },
      press() { handlers.forEach((fn) => fn()); } };
  };
  async function openInvoice(url, callback) {
    calls.push(["openInvoice", url]);
    const sheet = window.open(url, "telegram-invoice");
    let status = "pending";
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await window.__invoiceStatus(url);
      if (status !== "pending") break;
      if (!sheet || sheet.closed) { status = "cancelled"; break; }
    }
    if (sheet && !sheet.closed) sheet.close();
    calls.push(["invoiceClosed", status]);
    callback(status);
  }
  window.__telegram = { calls };
  window.Telegram = { WebApp: {
    initData: %(init)s, initDataUnsafe: { start_param: "" }, version: "8.0", platform: "android",
    colorScheme: %(scheme)s, themeParams: %(theme)s,
    ready() { calls.push(["ready"]); }, expand() { calls.push(["expand"]); }, close() { calls.push(["close"]); },
    onEvent() {}, isVersionAtLeast() { return true; },
    MainButton: button("MainButton"), BackButton: button("BackButton"),
    openLink(url) { calls.push(["openLink", url]); },
    openTelegramLink(url) { calls.push(["openTelegramLink", url]); },
    openInvoice,
    showConfirm(message, cb) { calls.push(["showConfirm", message]); cb(true); },
    downloadFile(params) { calls.push(["downloadFile", params.url]); },
    HapticFeedback: { notificationOccurred() {} },
  } };
})();
"""


def inside_telegram(page: Page, settings: Settings, telegram_id: int, *, theme: str = "light") -> Page:
    """Make ``page`` run the Mini App as inside Telegram for this user (initData, theme, native buttons, the
    invoice sheet); call before its first ``goto``."""
    init = tma_header(settings, telegram_id)["Authorization"][4:]
    fake = SandboxClient.from_settings(settings).telegram
    page.expose_function("__invoiceStatus", fake.invoice_status)
    page.add_init_script(TELEGRAM_WEBAPP % {"init": json.dumps(init), "scheme": json.dumps(theme),
                                            "theme": json.dumps(THEMES[theme])})
    return page


def main_button(page: Page) -> dict:
    """Telegram's MainButton as the app left it: text, isVisible, isActive, isProgressVisible."""
    return page.evaluate("() => { const b = Telegram.WebApp.MainButton; return {text: b.text, "
                         "isVisible: b.isVisible, isActive: b.isActive, isProgressVisible: b.isProgressVisible}; }")


def telegram_calls(page: Page, name: str) -> list[list]:
    """What the app asked of the Telegram stand-in, by method name (e.g. "openInvoice")."""
    return [call[1:] for call in page.evaluate("() => __telegram.calls") if call[0] == name]
