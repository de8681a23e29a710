"""The Mini App with an ``uploads`` role on its own origin (UPLOADS_BASE_URL): the page, served from the web's
origin, sends its selfies to the other origin in a real browser — CORS preflight and all (``web/cors.py``) —, reads
a busy answer's Retry-After there and sends again, and the person sees the photos added; no console error."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from db import avatars
from sandbox.server import serve
from scenarios.chaos import free_port
from tests.browser.conftest import ConsoleGuard, launch_fragment, new_page, screenshot, wait_for
from tests.factories import make_user, selfie
from tests.web.api_helpers import full_upload_room


@pytest.fixture
def settings(settings):
    return settings.with_overrides(uploads_base_url=f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def uploads_web(app, settings):
    """The same app as the uploads role, on UPLOADS_BASE_URL's port (another origin than the page's)."""
    handle = serve("uploads", app, port=int(settings.uploads_base_url.rsplit(":", 1)[1]))
    yield handle.url
    handle.stop()


def test_selfies_go_to_the_uploads_origin_and_are_added(browser, services, settings, live_web, uploads_web):
    guard = ConsoleGuard(live_web)
    user = make_user(services, telegram_id=53_100_001)
    with services.pool.connection() as conn, conn.transaction():
        avatar = avatars.insert_avatar(conn, user_id=user["id"], name="другой адрес")
    sent: list[tuple[str, str, int]] = []
    refused = threading.Event()
    context, page = new_page(browser, guard)

    def answered(response) -> None:
        if "/references" in response.url:
            sent.append((response.request.method, response.url, response.status))
            if response.status == 503:
                refused.set()

    page.on("response", answered)
    with full_upload_room():
        page.goto(f"{live_web}/app/" + launch_fragment(settings, 53_100_001, path=f"/avatars/{avatar['id']}"))
        page.locator("#pick").set_input_files([{"name": "me.jpg", "mimeType": "image/jpeg", "buffer": selfie(21)}])
        wait_for(page, refused, "the busy answer")
    expect(page.get_by_text("1 из 15 — нужно ещё 4")).to_be_visible(timeout=20_000)
    page.locator("#pick").set_input_files([{"name": "me2.jpg", "mimeType": "image/jpeg", "buffer": selfie(22)}])
    expect(page.get_by_text("2 из 15 — нужно ещё 3")).to_be_visible(timeout=20_000)
    screenshot(page, "avatar-uploads-origin")

    posts = [(url, status) for method, url, status in sent if method == "POST"]
    assert posts and all(url.startswith(uploads_web + "/api/v1/avatars/") for url, _ in posts), sent
    assert [status for _, status in posts] == [503, 201, 201], sent  # busy, sent again after Retry-After, then one more
    with services.pool.connection() as conn:
        assert len(avatars.references_of_avatar(conn, avatar_id=avatar["id"])) == 2
    guard.take_expected(503, "/references", 1)
    context.close()
    guard.assert_clean()
