"""The admin surface over HTTP: only the admin token's holder gets in; the dashboard and its JSON tell the truth
about jobs, payments, money, alerts and queues; a dead letter replayed from here is processed by the worker."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from db import dead_letters, outbox, payments, refunds
from runtime.limits import acquire_kie_key, rest_kie_key
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import chat_messages, wait_until
from tests.web.api_helpers import make_delivered_job
from usecases import generation
from usecases.alerts import raise_alert
from usecases.users import reverse_for_refund
from web import create_app
from web.admin.guard import COOKIE
from workers.publisher import publish


@pytest.fixture
def admin(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}


def letters(services) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute("SELECT * FROM dead_letters ORDER BY id").fetchall()


@pytest.mark.parametrize("path", ["/admin", "/admin/api/summary", "/admin/api/jobs", "/admin/api/dead-letters",
                                  "/admin/api/alerts", "/admin/api/referrals", "/admin/dramatiq/"])
def test_admin_pages_need_the_admin_token(client, path) -> None:
    nothing = client.get(path)
    wrong = client.get(path, headers={"Authorization": "Bearer not-the-token"})
    wrong_query = client.get(path + "?token=not-the-token")

    assert nothing.status_code == 401 and nothing.get_json()["error"]["code"] == "ADMIN_AUTH_REQUIRED"
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "ADMIN_FORBIDDEN"
    assert wrong_query.status_code == 403


def test_replay_needs_the_admin_token(client, services) -> None:
    response = client.post("/admin/api/dead-letters/1/replay")
    assert response.status_code == 401


def test_token_in_the_address_once_sets_an_httponly_session_cookie(client, settings) -> None:
    login = client.get(f"/admin?token={settings.admin_token}")

    assert login.status_code == 303 and login.headers["Location"] == "/admin"
    cookie = login.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert settings.admin_token not in cookie
    page = client.get("/admin")
    assert page.status_code == 200 and "PinGlass admin" in page.get_data(as_text=True)

    client.set_cookie(COOKIE, "forged", path="/admin")
    assert client.get("/admin/api/summary").status_code == 403


def test_cross_site_post_with_the_cookie_is_refused(client, services, settings) -> None:
    client.get(f"/admin?token={settings.admin_token}")

    response = client.post("/admin/api/dead-letters/1/replay", headers={"Origin": "https://evil.example"})

    assert response.status_code == 403


def test_admin_is_off_without_a_configured_token(services, settings, broker) -> None:
    client = create_app(settings.with_overrides(admin_token=""), services=services, broker=broker).test_client()

    response = client.get("/admin/api/summary", headers={"Authorization": "Bearer "})

    assert response.status_code == 403 and response.get_json()["error"]["code"] == "ADMIN_DISABLED"


def test_summary_counts_jobs_payments_money_and_backlogs(client, services, settings, admin) -> None:
    inviter = make_user(services)
    user = make_user(services, referred_by=inviter["id"])
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="standard")
    with services.pool.connection() as conn, conn.transaction():
        generation.start_job(conn, payment_id=payment["id"], referral_percent=settings.referral_percent)
        raise_alert(conn, kind="test", message="something to look at")

    body = client.get("/admin/api/summary", headers=admin).get_json()

    assert body["jobs"]["queued"] == 1 and body["jobs"]["delivered"] == 0
    assert body["payments"]["confirmed"] == {"count": 1, "amount_kopecks": 99900}
    assert body["money"] == {"paid_kopecks": 99900, "refunded_kopecks": 0, "referral_kopecks": 9990,
                             "net_kopecks": 89910}
    assert body["outbox"]["backlog"] >= 1 and body["alerts_unsent"] == 1 and body["dead_letters_open"] == 0
    assert {"kie", "payments", "bot"} <= {q["name"] for q in body["queues"]}


def test_referrers_show_what_they_earned_what_refunds_reversed_and_the_balance(client, services, settings,
                                                                              admin) -> None:
    inviter, quiet = make_user(services), make_user(services)
    for tier, refunded in (("standard", 99900), ("starter", 0)):  # one purchase refunded in full, one kept
        payer = make_user(services, referred_by=inviter["id"])
        payment = make_paid_payment(services, payer, make_avatar(services, payer), tier=tier)
        with services.pool.connection() as conn, conn.transaction():
            generation.start_job(conn, payment_id=payment["id"], referral_percent=settings.referral_percent)
            if refunded:
                refund = refunds.insert_refund(conn, payment_id=payment["id"], job_id=None, amount_kopecks=refunded,
                                               photos_refunded=15, reason="missing_photos",
                                               external_request_id=f"admin-test-{payment['id']}")
                refund = refunds.finish_refund(conn, id=refund["id"], status="succeeded", provider_status="REFUNDED")
                payments.add_refunded(conn, id=payment["id"], amount=refunded)
                reverse_for_refund(conn, refund=refund, percent=settings.referral_percent)

    listed = client.get("/admin/api/referrals", headers=admin).get_json()["referrers"]
    page = client.get("/admin", headers=admin).get_data(as_text=True)

    assert [(r["referrer_user_id"], r["paying"], r["earned_kopecks"], r["reversed_kopecks"], r["balance_kopecks"])
            for r in listed] == [(inviter["id"], 2, 9990 + 4990, 9990, 4990)]
    assert quiet["id"] not in {r["referrer_user_id"] for r in listed}
    row = page[page.index(f'id="referrer-{inviter["id"]}"'):].split("</tr>")[0]
    assert "149.80 ₽" in row and "99.90 ₽" in row and "49.90 ₽" in row
    assert client.get("/admin/api/referrals?limit=0", headers=admin).status_code == 400


def test_jobs_lists_progress_and_filters_by_status(client, services, settings, admin) -> None:
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user))
    with services.pool.connection() as conn, conn.transaction():
        job = generation.start_job(conn, payment_id=payment["id"], referral_percent=10)
        conn.execute("UPDATE generation_jobs SET photos_stored = 3, photos_failed = 1 WHERE id = %s", (job["id"],))

    listed = client.get("/admin/api/jobs?status=queued", headers=admin).get_json()["jobs"]
    none = client.get("/admin/api/jobs?status=delivered", headers=admin).get_json()["jobs"]
    bad = client.get("/admin/api/jobs?status=lost", headers=admin)
    bad_limit = client.get("/admin/api/jobs?limit=0", headers=admin)

    assert [(j["id"], j["progress"], j["total_photos"]) for j in listed] == [(job["id"], round(4 / 7, 3), 7)]
    assert none == []
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "INVALID_STATUS"
    assert bad_limit.status_code == 400
    page = client.get("/admin", headers=admin).get_data(as_text=True)
    assert f'id="job-{job["id"]}"' in page and "3/7, 1 failed" in page


def test_alerts_are_listed_newest_first(client, services, admin) -> None:
    with services.pool.connection() as conn, conn.transaction():
        raise_alert(conn, kind="first", message="one", severity="warning")
        raise_alert(conn, kind="second", message="two", severity="critical")

    alerts = client.get("/admin/api/alerts", headers=admin).get_json()["alerts"]

    assert [(a["kind"], a["severity"]) for a in alerts] == [("second", "critical"), ("first", "warning")]


def test_a_dead_letter_replayed_from_the_admin_api_is_processed_by_the_worker(client, services, worker,
                                                                               admin) -> None:
    user = make_user(services)
    with services.pool.connection() as conn, conn.transaction():
        letter_id = dead_letters.insert_dead_letter(
            conn, message_id="lost-message-1", actor="send_bot_reply", queue_name="bot",
            payload={"args": [user["id"], user["telegram_id"], "Ваш ответ наконец дошёл", None], "kwargs": {}},
            error="TelegramError: 502", traceback=None, attempts=6)

    listed = client.get("/admin/api/dead-letters", headers=admin).get_json()["dead_letters"]
    response = client.post(f"/admin/api/dead-letters/{letter_id}/replay", headers=admin)
    again = client.post(f"/admin/api/dead-letters/{letter_id}/replay", headers=admin)
    missing = client.post("/admin/api/dead-letters/999999/replay", headers=admin)

    assert [entry["id"] for entry in listed] == [letter_id]
    assert response.status_code == 200
    assert response.get_json()["replay_message_id"] != "lost-message-1"
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "ALREADY_REPLAYED"
    assert missing.status_code == 404
    texts = wait_until(lambda: [m["text"] for m in chat_messages(services, user["telegram_id"])])
    assert texts == ["Ваш ответ наконец дошёл"]
    assert client.get("/admin/api/dead-letters", headers=admin).get_json()["dead_letters"] == []


def test_a_real_dead_letter_shows_up_and_its_replay_runs_again(client, services, worker, admin) -> None:
    user = make_user(services)
    with services.pool.connection() as conn, conn.transaction():
        # Telegram refuses an empty text for good: the reply is dead-lettered at once, not retried.
        outbox.send(conn, "send_bot_reply", user["id"], user["telegram_id"], " ", None)
    publish(services.pool, worker.broker, older_than_s=0)

    [letter] = wait_until(lambda: letters(services))
    assert letter["actor"] == "send_bot_reply" and "Permanent" in letter["error"]
    page = client.get("/admin", headers=admin).get_data(as_text=True)
    assert f'action="/admin/dead-letters/{letter["id"]}/replay"' in page

    replayed = client.post(f"/admin/dead-letters/{letter['id']}/replay", headers=admin)

    assert replayed.status_code == 303 and replayed.headers["Location"].startswith("/admin?notice=")
    second = wait_until(lambda: [row for row in letters(services) if row["id"] != letter["id"]])
    assert second[0]["message_id"] == letters(services)[0]["replay_message_id"]


def test_replaying_an_actor_this_fleet_does_not_have_is_refused(client, services, admin) -> None:
    with services.pool.connection() as conn, conn.transaction():
        letter_id = dead_letters.insert_dead_letter(conn, message_id="m-gone", actor="renamed_long_ago",
                                                queue_name="old", payload={"args": []}, error="x",
                                                traceback=None, attempts=1)

    response = client.post(f"/admin/api/dead-letters/{letter_id}/replay", headers=admin)

    assert response.status_code == 409 and response.get_json()["error"]["code"] == "UNKNOWN_ACTOR"
    assert letters(services)[0]["replayed_at"] is None


def test_dramatiq_dashboard_is_mounted_behind_the_guard(client, broker, admin) -> None:
    broker.get_actor("send_bot_reply").send_with_options(args=(1, 1, "later", None), delay=60_000)

    page = client.get("/admin/dramatiq/", headers=admin)
    queue = client.get("/admin/dramatiq/queues/bot/delayed", headers=admin)

    assert page.status_code == 200 and 'href="/admin/dramatiq/queues/bot"' in page.get_data(as_text=True)
    assert queue.status_code == 200 and "send_bot_reply" in queue.get_data(as_text=True)
    summary = client.get("/admin/api/summary", headers=admin).get_json()
    assert [q["delayed"] for q in summary["queues"] if q["name"] == "bot"] == [1]


def test_dramatiq_dashboard_lists_workers_without_blocking_redis(client, broker, services, admin) -> None:
    """Its stock worker listing ran KEYS once per worker on every page view; ours names the ack sets instead."""
    ns, r = broker.namespace, services.redis
    worker_id = "w-" + uuid.uuid4().hex[:8]
    r.zadd(f"{ns}:__heartbeats__", {worker_id: int(time.time() * 1000)})
    r.sadd(f"{ns}:__acks__.{worker_id}.bot", "m1", "m2")
    r.sadd(f"{ns}:__acks__.{worker_id}.{sorted(broker.delay_queues)[0]}", "m3")

    def keys_calls() -> int:
        return int(r.info("commandstats").get("cmdstat_keys", {}).get("calls", 0))

    before = keys_calls()
    page = client.get("/admin/dramatiq/", headers=admin).get_data(as_text=True)

    assert keys_calls() == before
    row = page[page.index(worker_id):]
    assert re.search(r"table__number--primary\">\s*3\s*<", row[:400]), row[:400]


def test_dashboard_shows_each_kie_keys_account_budget_use_and_rest(client, settings, services, admin) -> None:
    ns = settings.broker_namespace
    acquire_kie_key(services.redis, key_count=1, limit=settings.kie_rate_limit, window_s=settings.kie_rate_window_s,
                    namespace=ns, accounts=settings.kie_key_accounts or None)
    rest_kie_key(services.redis, index=0, namespace=ns, seconds=42)

    page = client.get("/admin", headers=admin).get_data(as_text=True)

    row = page[page.index('id="kie-key-0"'):]
    row = row[:row.index("</tr>")]
    assert f"1 / {settings.kie_rate_limit}" in row and "resting" in row and "433" in row, row
    assert settings.kie_api_keys[0] not in page  # a key is shown by its index, never itself


def test_an_operator_finds_a_payment_by_any_of_its_ids_and_reads_its_whole_file(client, settings, services,
                                                                                admin) -> None:
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user))
    with services.pool.connection() as conn:  # what a cash register's RECEIPT notification leaves
        conn.execute("INSERT INTO payment_receipts (payment_id, kind, amount_kopecks, receipt_url, fiscal_number, "
                     "event_key) VALUES (%s, 'Income', %s, 'https://receipts.example/1', 'FN-77', 'doc-1')",
                     (payment["id"], payment["amount_kopecks"]))

    for term in (payment["order_id"], payment["provider_payment_id"], f"  {payment['order_id']} "):
        found = client.get("/admin/lookup", query_string={"q": term}, headers=admin)
        assert found.status_code == 303 and found.headers["Location"].endswith(f"/admin/payments/{payment['id']}")
    people = client.get("/admin/api/lookup", query_string={"q": str(user["telegram_id"])}, headers=admin).get_json()
    assert {"kind": "user", "id": user["id"]}.items() <= people["found"][0].items()

    page = client.get(f"/admin/payments/{payment['id']}", headers=admin).get_data(as_text=True)
    assert payment["order_id"] in page and payment["provider_payment_id"] in page
    assert "FN-77" in page and "Income" in page and "https://receipts.example/1" in page
    file = client.get(f"/admin/api/payments/{payment['id']}", headers=admin).get_json()
    assert file["payment"]["status"] == "confirmed" and file["receipts"][0]["fiscal_number"] == "FN-77"
    assert client.get("/admin/api/payments/999999", headers=admin).status_code == 404
    assert client.get(f"/admin/payments/{payment['id']}").status_code == 401  # not without the admin's login


def test_the_funnel_counts_how_far_each_person_got_and_revenue_by_tier(client, settings, services, admin) -> None:
    make_user(services)  # only opened the app
    make_avatar(services, make_user(services), references=0)  # an avatar, no selfies
    make_avatar(services, make_user(services))  # an avatar with its selfies
    checkout_only = make_user(services)
    with services.pool.connection() as conn:  # a checkout nobody paid
        payments.insert(conn, user_id=checkout_only["id"], avatar_id=make_avatar(services, checkout_only)["id"],
                        style_id="business", tier="starter", photo_count=7, amount_kopecks=49900,
                        order_id=f"o-{checkout_only['id']}", ttl_s=3600)
    buyer = make_user(services)
    make_delivered_job(services, buyer, make_avatar(services, buyer), tier="standard")

    funnel = client.get("/admin/api/funnel", query_string={"days": 7}, headers=admin).get_json()

    people = {step["step"]: step["people"] for step in funnel["steps"]}
    assert people == {"started": 5, "avatar": 4, "selfies": 3, "checkout": 2, "paid": 1, "generated": 1,
                      "delivered": 1}, people
    assert [(r["tier"], r["rail"], r["kept_kopecks"]) for r in funnel["revenue"]] == [("standard", "tbank", 99900)]
    page = client.get("/admin/funnel?days=7", headers=admin).get_data(as_text=True)
    assert 'id="funnel-chart"' in page and 'id="revenue-chart"' in page and "999.00 ₽" in page
    assert client.get("/admin/api/funnel", query_string={"days": "0"}, headers=admin).status_code == 400


def test_a_dead_letter_is_resolved_without_a_replay_once_and_with_a_reason(client, services, admin) -> None:
    with services.pool.connection() as conn, conn.transaction():
        letter_id = dead_letters.insert_dead_letter(
            conn, message_id="lost-message-2", actor="send_bot_reply", queue_name="bot",
            payload={"args": [1, 1, "x", None], "kwargs": {}}, error="TelegramError: 400", traceback=None,
            attempts=6)

    unexplained = client.post(f"/admin/api/dead-letters/{letter_id}/resolve", headers=admin, json={})
    resolved = client.post(f"/admin/api/dead-letters/{letter_id}/resolve", headers=admin,
                           json={"resolution": "the person was answered by hand"})
    replay_after = client.post(f"/admin/api/dead-letters/{letter_id}/replay", headers=admin)

    assert (unexplained.status_code, unexplained.get_json()["error"]["code"]) == (422, "NO_RESOLUTION")
    assert resolved.status_code == 200
    assert replay_after.status_code == 409  # closed is closed: no replay of a resolved letter
    assert client.get("/admin/api/dead-letters", headers=admin).get_json()["dead_letters"] == []
    [closed] = client.get("/admin/api/dead-letters?all=1", headers=admin).get_json()["dead_letters"]
    assert closed["resolution"] == "the person was answered by hand" and closed["resolved_at"]
    assert client.get("/admin/api/summary", headers=admin).get_json()["dead_letters_open"] == 0
    with services.pool.connection() as conn:
        assert outbox.claim_rows(conn, older_than_s=0) == []  # nothing was queued


def test_a_jobs_file_shows_each_portrait_and_the_timeline(client, services, admin) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user), stored=5)  # 5 of 7, then given up

    file = client.get(f"/admin/api/jobs/{job['id']}", headers=admin).get_json()

    assert file["job"]["status"] == "delivered_partial"
    assert [s["prompt_index"] for s in file["slots"]] == list(range(7))
    assert [bool(s["photo_id"]) for s in file["slots"]] == [True] * 5 + [False] * 2
    assert {s["status"] for s in file["slots"][5:]} == {"given_up"}
    events = [e["what"] for e in file["timeline"]]
    assert events[0] == "job created" and events[-1] == "finished: delivered_partial"
    assert "portrait 5 attempt 1 stored" in events
    assert client.get("/admin/api/jobs/999999", headers=admin).status_code == 404
    assert "portrait 6 attempt 1 given_up" in client.get(f"/admin/jobs/{job['id']}", headers=admin).get_data(
        as_text=True)


def test_an_operator_queues_a_jobs_refund_again(client, services, admin) -> None:
    user = make_user(services)
    job = make_delivered_job(services, user, make_avatar(services, user), stored=5)

    queued = client.post(f"/admin/api/jobs/{job['id']}/refund", headers=admin)

    assert queued.status_code == 200
    with services.pool.connection() as conn:
        rows = conn.execute("SELECT args FROM outbox WHERE actor_name = 'refund_job'").fetchall()
    assert [row["args"] for row in rows] == [[job["id"]]]
    assert client.post("/admin/api/jobs/999999/refund", headers=admin).status_code == 404
