"""The Mini App's own rules, run in the browser as the page runs them: Russian plural forms, roubles, dates
without a stray "г.", every API error code as a sentence, and Telegram's launch hash parsed as
telegram-web-app.js parses it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ConsoleGuard, new_page


@pytest.fixture
def module_page(browser, live_web):
    guard = ConsoleGuard(live_web)
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/")  # no launch: the page says to open it from Telegram, and loads our modules
    page.get_by_role("heading", name="Откройте PinGlass в Telegram").wait_for()
    yield page
    context.close()
    guard.assert_clean()


def test_plural_forms_money_and_dates_read_as_russian(module_page):
    result = module_page.evaluate("""async () => {
      const ru = await import("/app/assets/js/ru.js");
      return {
        portraits: [1, 2, 4, 5, 11, 12, 14, 20, 21, 22, 23, 25, 101, 111, 112].map(ru.portraits),
        selfies: ru.selfies(6), rub: [49900, 149900, 33014, 0].map(ru.rubles),
        date: ru.date("2026-12-30T10:00:00+00:00"), soon: ru.duration(42), later: ru.duration(130),
      };
    }""")
    assert result["portraits"] == [
        "1 портрет", "2 портрета", "4 портрета", "5 портретов", "11 портретов", "12 портретов", "14 портретов",
        "20 портретов", "21 портрет", "22 портрета", "23 портрета", "25 портретов", "101 портрет",
        "111 портретов", "112 портретов"]
    assert result["selfies"] == "6 селфи"
    assert [r.replace("\u00a0", " ") for r in result["rub"]] == ["499 ₽", "1 499 ₽", "330,14 ₽", "0 ₽"]
    assert result["date"] == "30 декабря 2026"
    assert result["soon"] == "около 40 секунд" and result["later"] == "около 2 минут"


def test_every_error_code_the_api_answers_has_a_sentence(module_page, app):
    from web.api.openapi import _ERRORS  # the codes the API documents

    documented = {code.strip(" .,;:()") for text in _ERRORS.values() for code in text.replace("(", " ").split()
                  if code.strip(" .,;:()").isupper() and "_" in code}
    sentences = module_page.evaluate("""async (codes) => {
      const ru = await import("/app/assets/js/ru.js");
      return Object.fromEntries(codes.map((c) => [c, ru.errorText(c, 400)]));
    }""", sorted(documented))
    generic = "Не получилось. Попробуйте ещё раз."
    missing = sorted(code for code, text in sentences.items() if text == generic)
    # Codes only a broken client could cause (a malformed request) may keep the generic sentence.
    assert set(missing) <= {"INVALID_JSON", "INVALID_REQUEST", "UNSUPPORTED_MEDIA_TYPE", "BAD_SIGNATURE",
                            "LINK_EXPIRED", "INVALID_IDEMPOTENCY_KEY", "IDEMPOTENCY_KEY_REUSED",
                            "INITDATA_MISSING", "INITDATA_BAD_HASH", "PAYMENT_REQUIRED"} | {"NO_FILES"}, missing


def test_the_launch_hash_is_parsed_as_telegram_passes_it(module_page):
    parsed = module_page.evaluate("""async () => {
      const { parseHash } = await import("/app/assets/js/telegram.js");
      return [
        parseHash("#tgWebAppData=user%3D1%26hash%3Dab&tgWebAppVersion=8.0"),
        parseHash("#/generations/5?tgWebAppData=a%3Db&tgWebAppStartParam=ref_x"),
        parseHash("#/payments/7?result=success&tgWebAppData=a%3Db"),
        parseHash("#/me"),
      ];
    }""")
    assert parsed[0] == {"path": "", "params": {"tgWebAppData": "user=1&hash=ab", "tgWebAppVersion": "8.0"}}
    assert parsed[1] == {"path": "/generations/5", "params": {"tgWebAppData": "a=b", "tgWebAppStartParam": "ref_x"}}
    assert parsed[2]["path"] == "/payments/7" and parsed[2]["params"]["result"] == "success"
    assert parsed[3] == {"path": "/me", "params": {}}
