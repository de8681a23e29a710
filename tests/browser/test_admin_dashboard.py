"""The admin dashboard in a browser (issue 11, "Done when"): an operator logs in with the token once (the session
cookie takes over), sees generation paused and a running job's per-photo progress, resumes generation, replays
one dead letter and resolves another, reads the funnel and revenue charts, finds a payment by its OrderId, lists
the payments, and re-sends a delivered album (a double click sends it once). Screenshots in out/screens/admin/."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Browser, expect

from db import dead_letters
from tests.browser.conftest import SCREENS, ConsoleGuard
from tests.factories import make_avatar, make_user
from tests.integration.pipeline_helpers import wait_until
from tests.web.api_helpers import make_delivered_job
from usecases import generation

DESKTOP = {"width": 1280, "height": 900}


def _letter(services, message_id: str, user) -> int:
    with services.pool.connection() as conn, conn.transaction():
        return dead_letters.insert_dead_letter(
            conn, message_id=message_id, actor="send_bot_reply", queue_name="bot",
            payload={"args": [user["id"], user["telegram_id"], "Ответ дошёл", None], "kwargs": {}},
            error="TelegramError: 502", traceback=None, attempts=6)


def test_an_operator_watches_and_acts_in_the_dashboard(browser: Browser, services, settings, worker,
                                                       live_web) -> None:
    with services.pool.connection() as conn:  # an operator paused generation: the running job stays as it is
        generation.set_generation_paused(conn, paused=True, by="admin", reason="Kie incident")
    user = make_user(services)
    running = make_delivered_job(services, user, make_avatar(services, user), stored=3, finished=False)
    buyer = make_user(services)
    delivered = make_delivered_job(services, buyer, make_avatar(services, buyer), tier="standard")
    replayed, resolved = _letter(services, "lost-a", user), _letter(services, "lost-b", user)
    guard = ConsoleGuard(live_web)
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
    page = guard.watch(context.new_page())
    (SCREENS / "admin").mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_web}/admin?token={settings.admin_token}")
    page.wait_for_url(f"{live_web}/admin")  # the token left the address; the cookie holds the session
    row = page.locator(f"#job-{running['id']}")
    expect(row).to_contain_text("3/7")
    expect(page.locator("#generation-switch")).to_contain_text("Generation is paused")
    page.screenshot(path=str(SCREENS / "admin" / "dashboard.png"), full_page=True)

    # the running job, photo by photo, and its timeline
    row.get_by_role("link", name=f"#{running['id']}").click()
    expect(page.locator("#slot-0")).to_contain_text("stored")
    expect(page.locator("#slot-6")).to_contain_text("pending")
    expect(page.locator("#timeline")).to_contain_text("portrait 1 attempt 1 submitted to Kie")
    page.screenshot(path=str(SCREENS / "admin" / "job.png"), full_page=True)
    page.goto(f"{live_web}/admin")
    page.get_by_role("button", name="Resume generation").click()
    expect(page.locator(".notice")).to_contain_text("Generation resumed")

    page.locator(f"#dead-letter-{replayed} button", has_text="Replay").click()
    expect(page.locator(".notice")).to_contain_text(f"Dead letter {replayed} (send_bot_reply) queued again")
    page.locator(f"#dead-letter-{resolved} input[name=resolution]").fill("answered by hand")
    page.locator(f"#dead-letter-{resolved} button", has_text="Resolve").click()
    expect(page.locator(".notice")).to_contain_text(f"Dead letter {resolved} resolved without a replay")
    expect(page.locator(f"#dead-letter-{replayed}")).to_have_count(0)
    expect(page.locator(f"#dead-letter-{resolved}")).to_have_count(0)

    page.get_by_role("link", name="Funnel and revenue").click()
    expect(page.locator("#funnel-chart")).to_be_visible()
    expect(page.locator("#revenue")).to_contain_text("999.00 ₽")
    page.screenshot(path=str(SCREENS / "admin" / "funnel.png"), full_page=True)

    with services.pool.connection() as conn:
        order_id = conn.execute("SELECT order_id FROM payments WHERE id = %s",
                                (delivered["payment_id"],)).fetchone()["order_id"]
    page.get_by_role("searchbox", name="Find").fill(order_id)
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(rf"/admin/payments/{delivered['payment_id']}$"))
    expect(page.locator("#payment")).to_contain_text(order_id)
    page.screenshot(path=str(SCREENS / "admin" / "payment.png"), full_page=True)

    page.get_by_role("link", name="Payments", exact=True).click()
    expect(page.locator(f"#payment-{delivered['payment_id']}")).to_contain_text("999.00 ₽")
    page.screenshot(path=str(SCREENS / "admin" / "payments.png"), full_page=True)

    page.goto(f"{live_web}/admin/jobs/{delivered['id']}")
    page.locator("#resend").dblclick()
    expect(page.locator(".notice")).to_contain_text("Album re-send queued (round 1)")

    def sent_chunks() -> list[int] | None:
        with services.pool.connection() as conn:
            rows = conn.execute("SELECT chunk, status FROM deliveries WHERE job_id = %s ORDER BY chunk",
                                (delivered["id"],)).fetchall()
        return [r["chunk"] for r in rows] if rows and all(r["status"] == "sent" for r in rows) else None

    assert wait_until(sent_chunks, what="the re-sent album") == [1000, 1001]  # 15 portraits as 10 + 5, once
    page.reload()
    expect(page.locator("#deliveries")).to_contain_text("1001")
    expect(page.locator("#resend")).to_contain_text("round 2")
    page.screenshot(path=str(SCREENS / "admin" / "job-resent.png"), full_page=True)
    time.sleep(1.0)
    assert sent_chunks() == [1000, 1001]  # the double click's second round-1 request sent nothing more
    context.close()
    assert guard.errors == [], guard.errors
