"""A JavaScript error nothing caught in the Mini App reaches the admins (issue 11, "Error tracking"): the page
reports it to /api/v1/client-errors, where it is grouped by message and screen."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import ConsoleGuard, launch_fragment, new_page
from tests.factories import make_user
from tests.integration.pipeline_helpers import wait_until


def test_an_uncaught_error_is_reported_and_grouped(browser, services, settings, live_web) -> None:
    user = make_user(services)
    guard = ConsoleGuard(live_web)
    context, page = new_page(browser, guard)
    page.goto(f"{live_web}/app/" + launch_fragment(settings, user["telegram_id"], path="/me"))
    expect(page.get_by_role("heading", name="Мои данные")).to_be_visible()

    page.evaluate("() => { setTimeout(() => { throw new Error('boom from the test'); }, 0); }")

    def recorded():
        with services.pool.connection() as conn:
            return conn.execute("SELECT * FROM error_groups WHERE source = 'miniapp'").fetchall() or None

    [group] = wait_until(recorded, timeout_s=10, what="the error reported")
    assert group["kind"] == "Error: boom from the test" or "boom from the test" in group["kind"], group
    assert group["location"] == "#/me" and "boom from the test" in group["message"]
    context.close()
    guard.errors = [e for e in guard.errors if "boom from the test" not in e]  # the error the test threw
    assert guard.errors == [], guard.errors
