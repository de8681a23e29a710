"""A person buys a Starter album in the Mini App, in a phone-sized Chromium, against the whole fleet (the web
over HTTP, an in-process worker and scheduler, the T-Bank, Kie, Telegram and S3 fakes): opens the app from an
invite, creates an avatar, uploads 7 selfies of which one is a duplicate and one shows no face, picks a style
and the Starter tier, is declined once by the bank and pays on the second try, watches the portraits arrive,
opens the gallery, downloads the ZIP, shares the album with a second browser, regenerates one portrait, and
erases the avatar. Every screen is photographed, light and dark, under out/screens/."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest
import requests
from PIL import Image
from playwright.sync_api import Page, expect

from db import avatars, jobs, photos, users
from sandbox.selfies import no_face, selfie
from tests.browser.conftest import ConsoleGuard, launch_fragment, new_page, screenshot
from tests.conftest import tma_header
from tests.integration.pipeline_helpers import kie_config

pytestmark = pytest.mark.scenario
JOB_TIMEOUT_MS = 150_000


def test_a_person_buys_a_starter_album_in_the_mini_app(browser, settings, services, worker, live_web, tmp_path):
    kie_config(services, latency_ms_min=300, latency_ms_max=900, rate_limit=settings.kie_rate_limit,
               rate_window_s=settings.kie_rate_window_s)
    guard = ConsoleGuard(live_web)
    inviter = requests.get(f"{live_web}/api/v1/referrals/me", headers=tma_header(settings, 51_000_001),
                           timeout=10).json()
    buyer_id = 51_000_002
    context, page = new_page(browser, guard)

    # Home, opened from an invite (startapp=ref_<code>)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, buyer_id, start_param=f"ref_{inviter['code']}"))
    expect(page.get_by_role("heading", name="AI-портреты по вашим селфи")).to_be_visible()
    expect(page.get_by_text("Заказов пока нет.")).to_be_visible()
    screenshot(page, "home-empty-light")
    page.get_by_role("button", name="Создать аватар").click()

    # A new avatar: the privacy paragraph, consent, then the avatar exists
    expect(page.get_by_role("heading", name="Новый аватар")).to_be_visible()
    create = page.get_by_role("button", name="Создать и загрузить селфи")
    expect(create).to_be_disabled()
    screenshot(page, "avatar-new-light")
    page.get_by_label("Название").fill("Анна в студии")
    page.get_by_label("Согласен(на) на обработку моих фото").check()
    create.click()
    expect(page.get_by_role("heading", name="Анна в студии")).to_be_visible()

    # Seven selfies: five good, one duplicate, one with no face
    files = [{"name": f"selfie-{i}.jpg", "mimeType": "image/jpeg", "buffer": selfie(1000 + i)} for i in range(5)]
    files.insert(3, {"name": "selfie-again.jpg", "mimeType": "image/jpeg", "buffer": files[0]["buffer"]})
    files.append({"name": "coffee.jpg", "mimeType": "image/jpeg", "buffer": no_face(1)})
    page.locator("#pick").set_input_files(files)
    expect(page.get_by_text("5 из 15 — можно продолжать")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Это фото уже загружено. Выберите другое.")).to_be_visible()
    expect(page.get_by_text("На фото не видно лица.", exact=False)).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Селфи \d+$"))).to_have_count(5)
    screenshot(page, "avatar-uploaded-light")
    guard.take_expected(422, "/references", 1)  # the no-face refusal, which the page explains
    page.get_by_role("button", name="Продолжить").click()

    # Style and tier, then the bank declines the first attempt
    expect(page.get_by_role("heading", name="Стиль и пакет")).to_be_visible()
    page.get_by_role("radio", name=re.compile("Кино")).click()
    page.get_by_role("radio", name=re.compile("^7 портретов")).click()
    expect(page.locator(".summary")).to_contain_text("499 ₽")
    _wait_images_loaded(page, ".styles img", 3)
    screenshot(page, "order-light")
    page.get_by_role("button", name="Оплатить 499 ₽").click()
    page.wait_for_url(re.compile(r"/pay/"))
    page.get_by_role("button", name="Decline").click()
    page.wait_for_url(re.compile(r"/app/#/payments/\d+\?result=fail"))
    expect(page.get_by_role("heading", name="Оплата не прошла")).to_be_visible()
    declined_id = int(re.search(r"/payments/(\d+)", page.url).group(1))
    screenshot(page, "payment-declined-light")

    # ... and the second try is paid
    page.get_by_role("button", name="Попробовать снова").click()
    page.wait_for_url(re.compile(r"/pay/"))
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r"/app/#/(payments/\d+\?result=success|generations/\d+)"))
    screenshot(page, "payment-waiting-light")

    # The order: live progress until the portraits are ready
    page.wait_for_url(re.compile(r"/app/#/generations/\d+"), timeout=30_000)
    job_id = int(re.search(r"/generations/(\d+)", page.url).group(1))
    expect(page.locator("h1")).to_be_visible()  # the order screen drawn, not the blank page before it
    screenshot(page, "order-progress-light")
    expect(page.get_by_role("heading", name="Ваши фото готовы")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    screenshot(page, "order-done-light")
    with services.pool.connection() as conn:
        buyer = users.get_user_by_telegram_id(conn, telegram_id=buyer_id)
        job = jobs.get_job(conn, id=job_id)
    assert buyer["referred_by"] is not None, "the invite (startapp=ref_<code>) was not registered"
    assert job["status"] == "delivered" and job["tier"] == "starter" and job["style_id"] == "cinematic"

    # The gallery: seven portraits load
    page.get_by_role("button", name="Открыть галерею").click()
    expect(page.get_by_role("heading", name="Ваши портреты")).to_be_visible()
    _wait_images_loaded(page, ".grid img", 7)
    screenshot(page, "gallery-light")

    # The ZIP holds seven images
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Скачать ZIP").click()
    archive = tmp_path / "album.zip"
    download_info.value.save_as(archive)
    with zipfile.ZipFile(archive) as album:
        names = album.namelist()
        assert len(names) == 7
        for name in names:
            Image.open(io.BytesIO(album.read(name))).verify()

    # A share link opens in someone else's browser
    page.get_by_role("button", name="Поделиться").click()
    link = page.locator(".share .invite")
    expect(link).to_contain_text("/g/")
    screenshot(page, "gallery-shared-light")
    friend_context, friend = new_page(browser, guard)
    friend.goto(link.inner_text())
    _wait_images_loaded(friend, "main img", 7)
    screenshot(friend, "shared-gallery-light")
    friend_context.close()

    # Regenerate one portrait: the new version takes its place
    first = page.locator(".grid img").first
    old_src = first.get_attribute("src")
    page.get_by_role("button", name="Открыть портрет 1").click()
    expect(page.get_by_role("dialog", name="Просмотр портрета")).to_be_visible()
    _wait_images_loaded(page, ".viewer img.full", 1)
    screenshot(page, "viewer-light")
    page.get_by_role("button", name="Переделать").click()
    page.locator(".dialog").get_by_role("button", name="Переделать").click()
    expect(page.get_by_text("Переделываем…")).to_be_visible()
    expect(page.get_by_text("Новая версия", exact=True)).to_be_visible(timeout=60_000)
    assert _path(page.locator(".grid img").first.get_attribute("src")) != _path(old_src)
    _wait_images_loaded(page, ".grid img", 7)

    # Every screen in the dark theme too, and the home with its order
    _dark_screens(browser, guard, settings, live_web, buyer_id, job_id, declined_id)
    page.goto(f"{live_web}/app/#/")
    expect(page.get_by_text("Готово", exact=False).first).to_be_visible()
    screenshot(page, "home-light")
    page.get_by_role("button", name="Мои данные").click()
    expect(page.get_by_role("heading", name="Мои данные")).to_be_visible()
    screenshot(page, "me-light")

    # Erase the avatar, after a confirmation
    page.goto(f"{live_web}/app/#/")
    page.get_by_role("button", name=re.compile("^Анна в студии")).click()
    page.get_by_role("button", name="Удалить аватар").click()
    page.locator(".dialog").get_by_role("button", name="Удалить").click()
    expect(page.get_by_text("Аватар — это набор ваших селфи", exact=False)).to_be_visible()
    with services.pool.connection() as conn:
        assert avatars.list_avatars(conn, user_id=buyer["id"]) == []
        assert photos.photos_of_job(conn, job_id=job_id) == []
    context.close()
    guard.assert_clean()


def _dark_screens(browser, guard: ConsoleGuard, settings, live_web: str, telegram_id: int, job_id: int,
                  declined_id: int) -> None:
    context, page = new_page(browser, guard, theme="dark")
    page.goto(f"{live_web}/app/" + launch_fragment(settings, telegram_id + 1, theme="dark"))  # someone new
    expect(page.get_by_text("Заказов пока нет.")).to_be_visible()
    screenshot(page, "home-empty-dark")
    context.close()
    context, page = new_page(browser, guard, theme="dark")
    with_user = lambda path: f"{live_web}/app/" + launch_fragment(settings, telegram_id, path=path, theme="dark")  # noqa: E731
    page.goto(with_user("/"))
    expect(page.get_by_role("heading", name="AI-портреты по вашим селфи")).to_be_visible()
    _wait_images_loaded(page, ".thumb[src]", 2)
    screenshot(page, "home-dark")
    avatar_link = page.get_by_role("button", name=re.compile("^Анна в студии"))
    avatar_link.click()
    expect(page.get_by_text("5 из 15 — можно продолжать")).to_be_visible()
    _wait_images_loaded(page, ".refs img", 5)
    avatar_url = page.url
    screenshot(page, "avatar-uploaded-dark")
    page.get_by_role("button", name="Продолжить").click()
    _wait_images_loaded(page, ".styles img", 3)
    screenshot(page, "order-dark")
    app = f"{live_web}/app/#"
    _show(page, f"{app}/avatars/new", "Новый аватар", "avatar-new-dark")
    _show(page, f"{app}/generations/{job_id}?progress=1", "Ваши фото готовы", "order-done-dark", (".grid img", 7))
    _show(page, f"{app}/generations/{job_id}", "Ваши портреты", "gallery-dark", (".grid img", 7))
    page.get_by_role("button", name="Открыть портрет 2").click()
    _wait_images_loaded(page, ".viewer img.full", 1)
    screenshot(page, "viewer-dark")
    _show(page, f"{app}/me", "Мои данные", "me-dark")
    page.goto(f"{live_web}/app/#/payments/{declined_id}")
    expect(page.get_by_role("heading", name="Оплата не прошла")).to_be_visible()
    screenshot(page, "payment-declined-dark")
    avatar_id = int(re.search(r"/avatars/(\d+)", avatar_url).group(1))
    unpaid = requests.post(f"{live_web}/api/v1/payments", headers=tma_header(settings, telegram_id), timeout=10,
                           json={"avatar_id": avatar_id, "style_id": "fairytale", "tier": "premium"}).json()
    page.goto(f"{live_web}/app/#/payments/{unpaid['payment_id']}")
    expect(page.get_by_role("heading", name="Ждём оплату")).to_be_visible()
    expect(page.get_by_role("button", name="Открыть страницу оплаты")).to_be_visible()
    screenshot(page, "payment-waiting-dark")
    context.close()


def _show(page: Page, url: str, heading: str, name: str, images: tuple[str, int] | None = None) -> None:
    """Open ``url``, wait for its heading (and ``images``: selector, count, all loaded), photograph it."""
    page.goto(url)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    if images:
        _wait_images_loaded(page, *images)
    screenshot(page, name)


def _wait_images_loaded(page: Page, selector: str, count: int, timeout_s: float = 20) -> None:
    """Wait until ``count`` images match ``selector`` and every one has really loaded (decoded, non-empty)."""
    deadline = time.monotonic() + timeout_s
    script = "els => els.map(e => e.complete && e.naturalWidth > 0)"
    while time.monotonic() < deadline:
        loaded = page.locator(selector).evaluate_all(script)
        if len(loaded) == count and all(loaded):
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"{selector}: {page.locator(selector).evaluate_all(script)} of {count} images loaded")


def _path(url: str | None) -> str:
    return (url or "").split("?", 1)[0]
