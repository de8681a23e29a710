"""The Stars rail over HTTP: checkout on rail "stars" (an invoice link from the Telegram fake, the payment in
Stars), the catalog's Stars prices, refusals with their codes, and the webhook's pre-checkout decision and paid
update — paid through the fake's invoice as a person would."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.client import SandboxClient
from tests.factories import make_avatar, make_user
from tests.web.api_helpers import auth

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _rows(services, sql: str, *args: Any) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute(sql, args).fetchall()


def _stars_checkout(client, settings, user, avatar, **extra: Any):
    return client.post("/api/v1/payments", headers=auth(settings, user),
                       json={"avatar_id": avatar["id"], "style_id": "business", "tier": "standard",
                             "rail": "stars", **extra})


@pytest.fixture
def telegram(settings) -> Any:
    return SandboxClient.from_settings(settings).telegram


@pytest.fixture
def webhook(services, settings, live_web) -> str:
    services.telegram.set_webhook(f"{live_web}/webhooks/telegram", settings.telegram_webhook_secret)
    return live_web


def test_stars_checkout_records_the_payment_and_an_invoice_link(client, settings, services, telegram) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)

    response = _stars_checkout(client, settings, user, avatar)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["rail"] == "stars" and body["amount_stars"] == 500 and body["amount_kopecks"] == 99900
    assert body["status"] == "new" and body["invoice_url"] and body["payment_url"] == body["invoice_url"]
    invoice = telegram.invoice(body["invoice_url"])
    assert invoice["currency"] == "XTR" and invoice["total_amount"] == 500
    assert invoice["payload"].startswith(f"pg1.{body['payment_id']}.")
    [row] = _rows(services, "SELECT rail, amount_stars, order_id FROM payments")
    assert row["rail"] == "stars" and row["amount_stars"] == 500 and len(row["order_id"]) == 32
    again = client.get(f"/api/v1/payments/{body['payment_id']}", headers=auth(settings, user)).get_json()
    assert again["invoice_url"] == body["invoice_url"] and again["rail"] == "stars"


def test_card_checkout_says_its_rail_and_no_stars(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    response = client.post("/api/v1/payments", headers=auth(settings, user),
                           json={"avatar_id": avatar["id"], "style_id": "business", "tier": "starter"})
    body = response.get_json()
    assert response.status_code == 201
    assert (body["rail"], body["amount_stars"], body["invoice_url"]) == ("card", None, None)


def test_unknown_rail_and_a_tier_without_stars_are_refused_before_anything_exists(app, client, settings,
                                                                                   services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)

    wrong = _stars_checkout(client, settings, user, avatar, rail="crypto")
    assert wrong.status_code == 422 and wrong.get_json()["error"]["code"] == "UNKNOWN_RAIL"

    fleet = app.extensions["pinglass"]
    fleet.settings = type(settings)(**{**settings.__dict__, "tier_stars": "starter:250"})
    try:
        response = _stars_checkout(client, settings, user, avatar)
    finally:
        fleet.settings = settings
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "STARS_UNAVAILABLE"
    assert _rows(services, "SELECT id FROM payments") == []


def test_catalog_shows_stars_prices_and_whether_receipts_are_required(client, settings, services) -> None:
    user = make_user(services)
    body = client.get("/api/v1/catalog", headers=auth(settings, user)).get_json()
    assert {t["id"]: t["price_stars"] for t in body["tiers"]} == {"starter": 250, "standard": 500, "premium": 750}
    assert body["receipts_required"] is False


def test_paid_invoice_confirms_the_payment_once_and_queues_one_job(client, settings, services, telegram,
                                                                   webhook) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    body = _stars_checkout(client, settings, user, avatar).get_json()
    telegram.fail(method="successful_payment", error_code="duplicate")

    assert telegram.pay_invoice(body["invoice_url"], user=user["telegram_id"]) == "paid"

    [row] = _rows(services, "SELECT status, telegram_payment_charge_id, telegram_payer_id FROM payments")
    assert row["status"] == "confirmed" and row["telegram_payment_charge_id"].startswith("stxp")
    assert row["telegram_payer_id"] == user["telegram_id"]
    consumes = _rows(services, "SELECT args FROM outbox WHERE actor_name = 'consume_payment'")
    assert [c["args"] for c in consumes] == [[body["payment_id"]]]
    assert _rows(services, "SELECT count(*) AS n FROM telegram_updates WHERE answer IS NOT NULL")[0]["n"] == 2
    assert _rows(services, "SELECT count(*) AS n FROM outbox WHERE actor_name = 'handle_telegram_update'")[0]["n"] == 0


def test_pre_checkout_with_a_wrong_amount_is_refused_and_nothing_moves(client, settings, services, telegram,
                                                                       webhook) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    body = _stars_checkout(client, settings, user, avatar).get_json()
    with services.pool.connection() as conn:  # the price changed after the link was made
        conn.execute("UPDATE payments SET amount_stars = 499 WHERE id = %s", (body["payment_id"],))

    assert telegram.pay_invoice(body["invoice_url"], user=user["telegram_id"]) == "failed"

    assert "Сумма счёта изменилась" in telegram.invoice(body["invoice_url"])["error_message"]
    [row] = _rows(services, "SELECT status, telegram_payment_charge_id FROM payments")
    assert row["status"] == "new" and row["telegram_payment_charge_id"] is None
    assert _rows(services, "SELECT id FROM outbox WHERE actor_name = 'consume_payment'") == []
    assert _rows(services, "SELECT id FROM generation_jobs") == []
    assert telegram.star_transactions() == []


def _webhook_post(client, settings, update: dict[str, Any]):
    return client.post("/webhooks/telegram", json=update,
                       headers={SECRET_HEADER: settings.telegram_webhook_secret})


def test_a_forged_payload_is_refused_at_pre_checkout_and_alerted_when_paid(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    body = _stars_checkout(client, settings, user, avatar).get_json()
    forged = f"pg1.{body['payment_id']}.{'0' * 64}"
    query = {"id": "q1", "from": {"id": user["telegram_id"]}, "currency": "XTR", "total_amount": 500,
             "invoice_payload": forged}

    answer = _webhook_post(client, settings, {"update_id": 91, "pre_checkout_query": query}).get_json()
    assert answer["method"] == "answerPreCheckoutQuery" and answer["ok"] is False
    assert answer["pre_checkout_query_id"] == "q1" and answer["error_message"]

    paid = {"currency": "XTR", "total_amount": 500, "invoice_payload": forged,
            "telegram_payment_charge_id": "stxpFORGED", "provider_payment_charge_id": "x"}
    message = {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 1},
               "successful_payment": paid}
    assert _webhook_post(client, settings, {"update_id": 92, "message": message}).status_code == 200
    [row] = _rows(services, "SELECT status, telegram_payment_charge_id FROM payments")
    assert row["status"] == "new" and row["telegram_payment_charge_id"] is None
    assert [a["kind"] for a in _rows(services, "SELECT kind FROM admin_alerts")] == ["stars_payment_unmatched"]


def test_pre_checkout_for_an_expired_payment_is_refused(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    body = _stars_checkout(client, settings, user, avatar).get_json()
    invoice_payload = SandboxClient.from_settings(settings).telegram.invoice(body["invoice_url"])["payload"]
    with services.pool.connection() as conn:
        conn.execute("UPDATE payments SET expires_at = now() - interval '1 minute'")
    query = {"id": "q2", "from": {"id": 1}, "currency": "XTR", "total_amount": 500,
             "invoice_payload": invoice_payload}

    answer = _webhook_post(client, settings, {"update_id": 93, "pre_checkout_query": query}).get_json()

    assert answer["ok"] is False and "истёк" in answer["error_message"]


def test_too_many_open_checkouts_is_429(app, client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    codes = [_stars_checkout(client, settings, user, avatar).status_code
             for _ in range(settings.max_open_checkouts + 1)]
    assert codes == [201] * settings.max_open_checkouts + [429]


def test_a_closed_invoice_is_cancelled_frees_its_checkout_and_can_no_longer_be_paid(client, settings, services,
                                                                                    telegram, webhook) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    held = [_stars_checkout(client, settings, user, avatar).get_json() for _ in range(settings.max_open_checkouts)]
    assert _stars_checkout(client, settings, user, avatar).status_code == 429
    first = held[0]

    cancelled = client.post(f"/api/v1/payments/{first['payment_id']}/cancel", headers=auth(settings, user))

    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "canceled"
    assert _stars_checkout(client, settings, user, avatar).status_code == 201  # the slot is free again
    again = client.post(f"/api/v1/payments/{first['payment_id']}/cancel", headers=auth(settings, user))
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "NOT_CANCELLABLE")
    stranger = client.post(f"/api/v1/payments/{held[1]['payment_id']}/cancel",
                           headers=auth(settings, make_user(services)))
    assert stranger.status_code == 404
    # the closed invoice's link still opens at Telegram, but paying it is refused and charges nothing
    assert telegram.pay_invoice(first["invoice_url"], user=user["telegram_id"]) == "failed"
    assert telegram.star_transactions() == []
    assert _rows(services, "SELECT id FROM generation_jobs") == []


def test_a_card_payment_is_not_cancelled_here(client, settings, services) -> None:
    user = make_user(services)
    avatar = make_avatar(services, user)
    card = client.post("/api/v1/payments", headers=auth(settings, user),
                       json={"avatar_id": avatar["id"], "style_id": "business", "tier": "starter"}).get_json()
    answer = client.post(f"/api/v1/payments/{card['payment_id']}/cancel", headers=auth(settings, user))
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (409, "NOT_CANCELLABLE")
