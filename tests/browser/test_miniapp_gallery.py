"""The gallery and the upload screen in detail: a partly made album explains its refund, the viewer swipes,
a share link is revoked and stops working, and a phone-sized photo is downscaled in the browser before upload."""

from __future__ import annotations

import io

import requests
from PIL import Image
from playwright.sync_api import expect

from db import avatars
from sandbox.selfies import selfie
from tests.browser.conftest import ConsoleGuard, launch_fragment, new_page, screenshot
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import make_delivered_job


def test_a_partly_made_album_says_what_failed_and_that_money_comes_back(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_001)
    job = make_delivered_job(services, user, make_avatar(services, user), tier="starter", stored=5)
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, 54_000_001, path=f"/generations/{job['id']}?progress=1"))
    expect(page.get_by_role("heading", name="Ваши фото готовы")).to_be_visible()
    expect(page.get_by_text("2 портрета не получились.", exact=False)).to_be_visible()
    expect(page.get_by_text("вернём за них деньги", exact=False)).to_be_visible()
    screenshot(page, "order-partial-light")
    context.close()
    guard.assert_clean()


def test_an_order_in_progress_shows_its_stage_the_portraits_so_far_and_the_time_left(browser, services, settings,
                                                                                     live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_004)
    job = make_delivered_job(services, user, make_avatar(services, user), tier="standard", stored=4, finished=False)
    for theme in ("light", "dark"):
        context, page = new_page(browser, guard, theme=theme)
        page.goto(f"{live_web}/app/" + launch_fragment(settings, 54_000_004, path=f"/generations/{job['id']}",
                                                       theme=theme))
        expect(page.get_by_role("heading", name="Создаём портреты: 4 из 15")).to_be_visible()
        expect(page.get_by_text("Осталось около", exact=False)).to_be_visible()
        expect(page.locator(".grid img")).to_have_count(4)
        expect(page.get_by_role("progressbar", name="Готовность заказа")).to_have_attribute("aria-valuenow", "27")
        screenshot(page, f"order-progress-{theme}")
        context.close()
    guard.assert_clean()


def test_the_viewer_swipes_and_a_revoked_share_link_stops_working(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_002)
    job = make_delivered_job(services, user, make_avatar(services, user), tier="starter")
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, 54_000_002, path=f"/generations/{job['id']}/gallery"))
    expect(page.locator(".grid img")).to_have_count(7)

    page.get_by_role("button", name="Открыть портрет 1").click()
    counter = page.locator(".counter-pill")
    expect(counter).to_have_text("1 / 7")
    stage = page.locator(".viewer-stage").bounding_box()
    y = stage["y"] + stage["height"] / 2
    page.mouse.move(stage["x"] + stage["width"] * 0.8, y)  # a swipe to the left: the next portrait
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.2, y, steps=5)
    page.mouse.up()
    expect(counter).to_have_text("2 / 7")
    page.get_by_role("button", name="Предыдущий").click()
    page.get_by_role("button", name="Предыдущий").click()
    expect(counter).to_have_text("7 / 7")
    page.get_by_role("button", name="Закрыть").click()

    page.get_by_role("button", name="Поделиться").click()
    link = page.locator(".share .invite").inner_text()
    expect(page.get_by_text("Действует до", exact=False)).to_be_visible()
    assert requests.get(link, timeout=10).status_code == 200
    page.get_by_role("button", name="Отозвать").click()
    page.locator(".dialog").get_by_role("button", name="Отозвать").click()
    expect(page.get_by_text("Ссылка отозвана")).to_be_visible()
    assert requests.get(link, timeout=10).status_code == 404
    context.close()
    guard.assert_clean()


def test_a_large_photo_is_downscaled_in_the_browser_before_upload(browser, services, settings, live_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=54_000_003)
    with services.pool.connection() as conn, conn.transaction():
        avatar = avatars.insert_avatar(conn, user_id=user["id"], name="большое фото")
    with Image.open(io.BytesIO(selfie(7))) as image:
        scale = 3000 / max(image.size)
        big = image.convert("RGB").resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    big.save(buffer, "PNG")  # a phone's 3000 px photo, ~10 MB as PNG
    context, page = new_page(browser, guard)
    # Keep what the page puts into its upload form, to look at what went over the wire.
    page.add_init_script("""(() => { const append = FormData.prototype.append; window.__sent = [];
      FormData.prototype.append = function (name, value, ...rest) {
        if (value instanceof Blob) window.__sent.push(value); return append.call(this, name, value, ...rest); };
    })();""")
    page.goto(f"{live_web}/app/" + launch_fragment(settings, 54_000_003, path=f"/avatars/{avatar['id']}"))
    page.locator("#pick").set_input_files([{"name": "big.png", "mimeType": "image/png",
                                            "buffer": buffer.getvalue()}])
    expect(page.get_by_text("1 из 15 — нужно ещё 4")).to_be_visible(timeout=30_000)
    with services.pool.connection() as conn:
        [reference] = avatars.references_of_avatar(conn, avatar_id=avatar["id"])
    assert max(reference["width"], reference["height"]) == 2048
    # What went over the wire (the server would downscale too): a JPEG of 2048 px made by the browser.
    [sent] = page.evaluate("""async () => Promise.all(window.__sent.map(async (blob) => {
      const bitmap = await createImageBitmap(blob);
      return { type: blob.type, size: blob.size, width: bitmap.width, height: bitmap.height }; }))""")
    assert sent["type"] == "image/jpeg" and max(sent["width"], sent["height"]) == 2048
    assert sent["size"] < len(buffer.getvalue()) / 3
    context.close()
    guard.assert_clean()
