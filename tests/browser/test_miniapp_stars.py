"""Checkout on two rails in the Mini App, in a phone-sized Chromium against the fleet (the web over HTTP, an
in-process worker and scheduler, the Telegram, Kie, T-Bank and S3 fakes): a Stars purchase inside Telegram
(openInvoice → the fake's invoice → pre-checkout answered by our webhook → successful_payment → the album in the
chat and on the order screen), cancelled once first; outside Telegram the invoice page comes back to the app; a
partly made Stars order credits its missing portraits, which the credits screen redeems; a Stars order that
makes nothing says the Stars came back; the receipt e-mail appears only with T-Bank receipts on and refuses a bad
address; too many open checkouts are explained in Russian. Screens are photographed light and dark."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from db import jobs
from sandbox.client import SandboxClient
from tests.browser.conftest import (
    ConsoleGuard,
    inside_telegram,
    launch_fragment,
    main_button,
    new_page,
    screenshot,
    telegram_calls,
)
from tests.browser.test_miniapp_purchase import _wait_images_loaded
from tests.conftest import tma_header
from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import albums_in_chat, fast_kie, kie_faults, wait_until

pytestmark = pytest.mark.scenario
JOB_TIMEOUT_MS = 120_000


@pytest.fixture
def settings(settings, request):
    """The browser tests' settings; ``@pytest.mark.parametrize("settings", [{...}], indirect=True)`` overrides."""
    return settings.with_overrides(**getattr(request, "param", {}))


@pytest.fixture
def telegram(services, settings, live_web):
    """The Telegram fake, delivering updates (the pre-checkout query, the paid message) to our webhook."""
    services.telegram.set_webhook(f"{live_web}/webhooks/telegram", settings.telegram_webhook_secret)
    return SandboxClient.from_settings(settings).telegram


def payments_of(services, user) -> list[dict]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT * FROM payments WHERE user_id = %s ORDER BY id", (user["id"],)).fetchall()


def test_a_stars_purchase_inside_telegram_runs_to_the_album(browser, services, settings, worker, live_web, telegram):
    fast_kie(services)
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_001)
    avatar = make_avatar(services, user)
    context, page = new_page(browser, guard)
    inside_telegram(page, settings, user["telegram_id"])
    page.goto(f"{live_web}/app/#/avatars/{avatar['id']}/order")
    expect(page.get_by_role("heading", name="Стиль и пакет")).to_be_visible()

    # Two rails; the MainButton follows the choice; no e-mail while receipts are off
    page.get_by_role("radio", name=re.compile("^7 портретов")).click()
    assert main_button(page)["text"] == "Оплатить 499 ₽"
    expect(page.get_by_label("E-mail для чека")).to_be_hidden()
    page.get_by_role("radio", name=re.compile("^Telegram Stars")).click()
    expect(page.get_by_role("radio", name=re.compile("^Telegram Stars"))).to_have_attribute("aria-checked", "true")
    expect(page.locator(".summary")).to_contain_text("250 ⭐")
    assert main_button(page)["text"] == "Оплатить 250 ⭐"
    _wait_images_loaded(page, ".styles img", 3)
    screenshot(page, "order-stars-light")

    # The invoice sheet, closed with "Отмена": the app stays and says so; nothing was charged
    with context.expect_page() as sheet_info:
        page.evaluate("() => Telegram.WebApp.MainButton.press()")
    sheet = sheet_info.value
    sheet.get_by_role("button", name="Отмена").click()
    expect(page.get_by_text("Оплата отменена — можно выбрать другой способ.")).to_be_visible()
    assert telegram_calls(page, "invoiceClosed") == [["cancelled"]]
    assert main_button(page)["text"] == "Оплатить 250 ⭐"
    screenshot(page, "order-stars-cancelled-light")

    # Paid the second time: pre-checkout answered by our webhook, then the paid message starts the job
    with context.expect_page() as sheet_info:
        page.evaluate("() => Telegram.WebApp.MainButton.press()")
    sheet = sheet_info.value
    sheet.get_by_role("button", name="Оплатить ⭐ 250").click()
    page.wait_for_url(re.compile(r"/app/#/generations/\d+"), timeout=30_000)
    assert telegram_calls(page, "invoiceClosed")[-1] == ["paid"]
    job_id = int(re.search(r"/generations/(\d+)", page.url).group(1))
    expect(page.get_by_role("heading", name="Ваши фото готовы")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    _wait_images_loaded(page, ".grid img", 7)
    screenshot(page, "order-stars-done-light")

    stars_payments = [p for p in payments_of(services, user) if p["rail"] == "stars"]
    # the closed invoice was cancelled (it holds no checkout slot and can no longer be paid), the second paid
    assert [p["status"] for p in stars_payments] == ["canceled", "confirmed"]
    assert stars_payments[1]["amount_stars"] == 250 and stars_payments[1]["telegram_payment_charge_id"]
    with services.pool.connection() as conn:
        job = jobs.get_job(conn, id=job_id)
    assert job["payment_id"] == stars_payments[1]["id"] and job["status"] == "delivered"
    assert wait_until(lambda: sum(len(a) for a in albums_in_chat(services, user["telegram_id"])) == 7,
                      what="the album in the chat")
    assert len(telegram_calls(page, "openInvoice")) == 2 and telegram_calls(page, "openLink") == []
    context.close()
    guard.assert_clean()


def test_outside_telegram_the_invoice_page_comes_back_to_the_app_and_a_partial_order_credits_portraits(
        browser, services, settings, worker, live_web, telegram):
    fast_kie(services)
    kie_faults(services, [{"method": "task", "match": "[#2]", "times": 3}])  # the third portrait never comes out
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_002)
    avatar = make_avatar(services, user)
    context, page = new_page(browser, guard, theme="dark")
    page.goto(f"{live_web}/app/" + launch_fragment(settings, user["telegram_id"], theme="dark",
                                                   path=f"/avatars/{avatar['id']}/order"))
    expect(page.get_by_role("heading", name="Стиль и пакет")).to_be_visible()
    page.get_by_role("radio", name=re.compile("^7 портретов")).click()
    page.get_by_role("radio", name=re.compile("^Telegram Stars")).click()
    _wait_images_loaded(page, ".styles img", 3)
    screenshot(page, "order-stars-dark")

    page.get_by_role("button", name="Оплатить 250 ⭐").click()
    page.wait_for_url(re.compile(r"/invoice/"))
    assert "return=" in page.url
    page.get_by_role("button", name="Оплатить ⭐ 250").click()
    page.wait_for_url(re.compile(r"/app/#/(payments/\d+\?status=paid|generations/\d+)"))
    page.wait_for_url(re.compile(r"/app/#/generations/\d+"), timeout=30_000)

    # 6 of 7: the missing one is credited, in the Stars rail's words, with a way to the credits
    notice = page.get_by_text("1 портрет не получился — он зачислен вам в подарок", exact=False)
    expect(notice).to_be_visible(timeout=JOB_TIMEOUT_MS)
    _wait_images_loaded(page, ".grid img", 6)
    expect(page.get_by_text("на вашу карту", exact=False)).to_have_count(0)
    screenshot(page, "order-stars-partial-dark")
    expect(page.get_by_role("button", name="Мои подарочные портреты")).to_be_visible()

    # Home: the free portrait has its card, and the order says where its missing portrait went
    page.goto(f"{live_web}/app/#/")
    expect(page.get_by_role("heading", name="У вас 1 портрет в подарок")).to_be_visible()
    expect(page.get_by_text("Готово 6 из 7, остальные — в подарок")).to_be_visible()
    screenshot(page, "home-credits-dark")
    page.get_by_role("button", name="Получить портреты").click()

    # The credits screen: balance, history, redeem for the avatar in a style → the new order's progress
    expect(page.get_by_text("У вас 1 портрет в подарок")).to_be_visible()
    expect(page.get_by_text("+1 портрет в подарок")).to_be_visible()
    _wait_images_loaded(page, ".styles img", 3)
    screenshot(page, "credits-dark")
    page.get_by_role("radio", name=re.compile("Кино")).click()
    kie_faults(services, [])
    page.get_by_role("button", name="Получить 1 портрет").click()
    page.wait_for_url(re.compile(r"/app/#/generations/\d+\?progress=1"))
    credit_job_id = int(re.search(r"/generations/(\d+)", page.url).group(1))
    expect(page.get_by_role("heading", name="Ваши фото готовы")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    with services.pool.connection() as conn:
        credit_job = jobs.get_job(conn, id=credit_job_id)
    assert credit_job["kind"] == "credit" and credit_job["style_id"] == "cinematic"
    assert credit_job["total_photos"] == 1 and credit_job["status"] == "delivered"

    page.goto(f"{live_web}/app/#/credits")
    expect(page.get_by_text("Подарочных портретов пока нет")).to_be_visible()
    expect(page.get_by_text("−1 портрет", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Получен в заказе №{credit_job_id}", exact=False)).to_be_visible()
    screenshot(page, "credits-spent-dark")
    context.close()
    guard.assert_clean()


def test_an_invoice_cancelled_outside_telegram_comes_back_to_a_choice_of_another_way(browser, services, settings,
                                                                                      live_web, telegram):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_007)
    avatar = make_avatar(services, user)
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, user["telegram_id"],
                                                   path=f"/avatars/{avatar['id']}/order"))
    page.get_by_role("radio", name=re.compile("Сказка")).click()
    page.get_by_role("radio", name=re.compile("^23 портрета")).click()
    page.get_by_role("radio", name=re.compile("^Telegram Stars")).click()
    page.get_by_role("button", name="Оплатить 750 ⭐").click()
    page.wait_for_url(re.compile(r"/invoice/"))
    page.get_by_role("button", name="Отмена").click()

    page.wait_for_url(re.compile(r"/app/#/payments/\d+\?status=cancelled"))
    expect(page.get_by_role("heading", name="Оплата отменена")).to_be_visible()
    expect(page.get_by_text("23 портрета · 750 ⭐")).to_be_visible()
    screenshot(page, "payment-stars-cancelled-light")
    [payment] = payments_of(services, user)
    assert payment["status"] == "canceled" and telegram.invoice_status(payment["payment_url"]) == "cancelled"

    page.get_by_role("button", name="Выбрать другой способ").click()  # the same order, by card this time
    expect(page.get_by_role("heading", name="Стиль и пакет")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^Картой"))).to_have_attribute("aria-checked", "true")
    expect(page.get_by_role("radio", name=re.compile("Сказка"))).to_have_attribute("aria-checked", "true")
    page.get_by_role("button", name="Оплатить 1 499 ₽").click()
    page.wait_for_url(re.compile(r"/pay/"))
    assert [p["rail"] for p in payments_of(services, user)] == ["stars", "tbank"]
    context.close()
    guard.assert_clean()


def test_a_stars_order_that_makes_nothing_says_the_stars_came_back(browser, services, settings, worker, live_web,
                                                                 telegram):
    fast_kie(services)
    kie_faults(services, [{"method": "task", "times": 1000}])  # no portrait ever comes out
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_003)
    avatar = make_avatar(services, user)
    api = tma_header(settings, user["telegram_id"])
    payment = requests.post(f"{live_web}/api/v1/payments", headers=api, timeout=10, json={
        "avatar_id": avatar["id"], "style_id": "business", "tier": "starter", "rail": "stars"}).json()
    assert telegram.pay_invoice(payment["invoice_url"], user=user["telegram_id"]) == "paid"

    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, user["telegram_id"],
                                                   path=f"/payments/{payment['payment_id']}"))
    page.wait_for_url(re.compile(r"/app/#/generations/\d+"), timeout=30_000)
    expect(page.get_by_role("heading", name="Не получилось создать портреты")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_text("Мы вернули 250 ⭐ на ваш баланс Telegram Stars.")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("карт", exact=False)).to_have_count(0)
    screenshot(page, "order-stars-refunded-light")
    [charge] = [t["id"] for t in telegram.star_transactions() if "source" in t]
    assert telegram.refunds_of_charge(charge) == 1  # the Stars really came back, once
    context.close()
    guard.assert_clean()


def test_without_receipts_there_is_no_email_field_and_the_card_goes_to_the_bank(browser, services, settings,
                                                                                live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_004)
    avatar = make_avatar(services, user)
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, user["telegram_id"],
                                                   path=f"/avatars/{avatar['id']}/order"))
    expect(page.get_by_role("heading", name="Как оплатить")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^Картой"))).to_have_attribute("aria-checked", "true")
    expect(page.get_by_label("E-mail для чека")).to_be_hidden()
    page.get_by_role("button", name="Оплатить 999 ₽").click()
    page.wait_for_url(re.compile(r"/pay/"))
    [payment] = payments_of(services, user)
    assert payment["rail"] == "tbank" and payment["tier"] == "standard" and payment["amount_stars"] is None
    context.close()
    guard.assert_clean()


@pytest.mark.parametrize("settings", [{"tbank_receipts": True}], indirect=True)
def test_with_receipts_the_card_asks_for_an_email_and_refuses_a_bad_one(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_005)
    avatar = make_avatar(services, user)
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, user["telegram_id"],
                                                   path=f"/avatars/{avatar['id']}/order"))
    field = page.get_by_label("E-mail для чека")
    expect(field).to_be_visible()
    assert field.get_attribute("type") == "email" and field.get_attribute("autocomplete") == "email"
    expect(page.get_by_text("Пришлём чек по 54-ФЗ")).to_be_visible()

    page.get_by_role("button", name="Оплатить 999 ₽").click()  # empty
    expect(page.get_by_role("alert")).to_have_text("Укажите e-mail — пришлём на него чек.")
    field.fill("anna@example")
    page.get_by_role("button", name="Оплатить 999 ₽").click()
    expect(page.get_by_role("alert")).to_contain_text("Похоже, в адресе ошибка")
    expect(field).to_have_attribute("aria-invalid", "true")
    screenshot(page, "order-email-light")
    assert payments_of(services, user) == []  # refused before anything was sent
    field.fill("a" * 65 + "@example.ru")  # the page leaves the local part's length (64 at most) to the server
    page.get_by_role("button", name="Оплатить 999 ₽").click()
    expect(page.get_by_role("alert")).to_contain_text("Похоже, в адресе ошибка")
    guard.take_expected(422, "/api/v1/payments", 1)  # the server's INVALID_EMAIL, shown beside the field
    assert payments_of(services, user) == []

    page.get_by_role("radio", name=re.compile("^Telegram Stars")).click()  # Stars need no e-mail
    expect(field).to_be_hidden()
    page.get_by_role("radio", name=re.compile("^Картой")).click()
    field.fill("anna@example.ru")
    page.get_by_role("button", name="Оплатить 999 ₽").click()
    page.wait_for_url(re.compile(r"/pay/"))
    [payment] = payments_of(services, user)
    assert payment["rail"] == "tbank" and payment["email"] == "anna@example.ru"
    context.close()
    guard.assert_clean()


def test_too_many_open_checkouts_are_explained_in_russian(browser, services, settings, live_web, telegram):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_006)
    avatar = make_avatar(services, user)
    api = tma_header(settings, user["telegram_id"])
    for _ in range(settings.max_open_checkouts):
        opened = requests.post(f"{live_web}/api/v1/payments", headers=api, timeout=10, json={
            "avatar_id": avatar["id"], "style_id": "business", "tier": "starter", "rail": "stars"})
        assert opened.status_code == 201, opened.text
    context, page = new_page(browser, guard, theme="dark")
    page.goto(f"{live_web}/app/" + launch_fragment(settings, user["telegram_id"], theme="dark",
                                                   path=f"/avatars/{avatar['id']}/order"))
    page.get_by_role("radio", name=re.compile("^Telegram Stars")).click()
    page.get_by_role("button", name="Оплатить 500 ⭐").click()
    expect(page.get_by_text("У вас уже есть неоплаченные заказы", exact=False)).to_be_visible()
    guard.take_expected(429, "/api/v1/payments", 1)  # answered once: the app does not retry it
    _wait_images_loaded(page, ".styles img", 3)
    screenshot(page, "order-too-many-dark")
    page.get_by_role("button", name="Мои заказы").click()
    expect(page.get_by_role("heading", name="Заказы")).to_be_visible()
    assert len(payments_of(services, user)) == settings.max_open_checkouts
    context.close()
    guard.assert_clean()
