"""Telegram Stars at the wire: the fake's invoice links, the pre-checkout round trip (answered in the webhook's
body, through the Bot API, wrongly, or not at all), the successful_payment update and its faults, refunds and
getStarTransactions, driven through the gateway and SandboxClient as the fleet drives them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, jsonify, request

from gateways.telegram import TelegramClient, TelegramError, pre_checkout_answer
from sandbox.client import SandboxClient
from sandbox.server import ServerHandle, serve
from sandbox.telegram import FakeTelegramState, TelegramFakeConfig, create_app

TOKEN = "100000:SANDBOX-bot-token"
SECRET = "stars-secret"
PAYER = {"id": 4242, "first_name": "Вера"}


class Bot:
    """The bot's side of the webhook: how it answers pre-checkout queries, and every update it got."""

    def __init__(self) -> None:
        self.mode = "body_ok"  # body_ok | body_refuse | silent | api_ok
        self.updates: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.client: TelegramClient | None = None

    def app(self) -> Flask:
        app = Flask("stars-bot")

        @app.post("/hook")
        def hook() -> Any:
            update = request.get_json()
            with self.lock:
                self.updates.append(update)
            query = update.get("pre_checkout_query")
            if query is None:
                return jsonify({"ok": True})
            if self.mode == "body_ok":
                return jsonify(pre_checkout_answer(query["id"], ok=True, error_message=None))
            if self.mode == "body_refuse":
                return jsonify(pre_checkout_answer(query["id"], ok=False, error_message="Сумма изменилась"))
            if self.mode == "api_ok":
                threading.Thread(target=self.client.answer_pre_checkout_query, args=(query["id"],),
                                 kwargs={"ok": True}, daemon=True).start()
            return jsonify({"ok": True})

        return app

    def paid_updates(self) -> list[dict[str, Any]]:
        with self.lock:
            return [u for u in self.updates if "successful_payment" in u.get("message", {})]


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[ServerHandle, FakeTelegramState]]:
    app = create_app(TelegramFakeConfig(bot_token=TOKEN, webhook_timeout_ms=2000))
    handle = serve("telegram-stars", app, port=0)
    yield handle, app.extensions["fake"]
    handle.stop()


@pytest.fixture(scope="module")
def bot_server() -> Iterator[tuple[ServerHandle, Bot]]:
    bot = Bot()
    handle = serve("stars-bot", bot.app(), port=0)
    yield handle, bot
    handle.stop()


@pytest.fixture
def fake(fake_server, bot_server) -> Iterator[tuple[TelegramClient, SandboxClient, Bot]]:
    handle, _ = fake_server
    bot_handle, bot = bot_server
    sandbox = SandboxClient(telegram=handle.url)
    sandbox.telegram.reset()
    sandbox.telegram.configure(pre_checkout_timeout_ms=1500)
    client = TelegramClient(handle.url, TOKEN)
    client.set_webhook(f"{bot_handle.url}/hook", SECRET)
    bot.mode, bot.updates, bot.client = "body_ok", [], client
    yield client, sandbox, bot
    client.close()


def invoice(client: TelegramClient, payload: str = "pg1.7.sig", stars: int = 250) -> str:
    return client.create_invoice_link(title="PinGlass: 7 портретов", description="7 AI-портретов",
                                      payload=payload, label="starter", stars=stars)


def raw_call(client: TelegramClient, method: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{client.api_base}/bot{TOKEN}/{method}", json=body, timeout=5)


def wait_for(check, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    return check()


def test_paid_invoice_sends_the_query_then_the_successful_payment_with_charge_ids(fake) -> None:
    client, sandbox, bot = fake
    url = invoice(client, payload="pg1.7.abc")

    assert sandbox.telegram.invoice_status(url) == "pending"
    assert sandbox.telegram.pay_invoice(url, user=PAYER) == "paid"

    query = next(u["pre_checkout_query"] for u in bot.updates if "pre_checkout_query" in u)
    assert query["currency"] == "XTR" and query["total_amount"] == 250
    assert query["invoice_payload"] == "pg1.7.abc" and query["from"]["id"] == PAYER["id"]
    paid = bot.paid_updates()[0]["message"]["successful_payment"]
    assert paid["invoice_payload"] == "pg1.7.abc" and paid["total_amount"] == 250 and paid["currency"] == "XTR"
    assert paid["telegram_payment_charge_id"] and paid["provider_payment_charge_id"]
    assert sandbox.telegram.invoice_status(url) == "paid"
    [incoming] = client.get_star_transactions()
    assert (incoming.id, incoming.amount, incoming.incoming) == (paid["telegram_payment_charge_id"], 250, True)
    assert (incoming.user_id, incoming.invoice_payload) == (PAYER["id"], "pg1.7.abc")


def test_refused_pre_checkout_fails_the_payment_with_the_bots_message_and_charges_nothing(fake) -> None:
    client, sandbox, bot = fake
    bot.mode = "body_refuse"
    url = invoice(client)

    assert sandbox.telegram.pay_invoice(url, user=PAYER) == "failed"

    assert sandbox.telegram.invoice(url)["error_message"] == "Сумма изменилась"
    assert bot.paid_updates() == [] and client.get_star_transactions() == []


def test_no_answer_within_the_timeout_fails_the_payment_and_a_late_answer_is_refused(fake) -> None:
    client, sandbox, bot = fake
    bot.mode = "silent"
    sandbox.telegram.configure(pre_checkout_timeout_ms=300)
    url = invoice(client)

    started = time.monotonic()
    assert sandbox.telegram.pay_invoice(url, user=PAYER) == "failed"

    assert 0.25 < time.monotonic() - started < 3
    query_id = next(u["pre_checkout_query"]["id"] for u in bot.updates if "pre_checkout_query" in u)
    with pytest.raises(TelegramError) as late:
        client.answer_pre_checkout_query(query_id, ok=True)
    assert late.value.code == 400 and "too old" in late.value.message
    assert bot.paid_updates() == []


def test_answer_through_the_bot_api_pays_the_invoice(fake) -> None:
    client, sandbox, bot = fake
    bot.mode = "api_ok"

    assert sandbox.telegram.pay_invoice(invoice(client), user=PAYER) == "paid"

    assert [a["via"] for a in sandbox.telegram.state()["pre_checkout_answers"]] == ["api"]
    assert len(bot.paid_updates()) == 1


def test_a_charge_is_refunded_once_whole_and_only_to_its_payer(fake) -> None:
    client, sandbox, bot = fake
    sandbox.telegram.pay_invoice(invoice(client), user=PAYER)
    charge = bot.paid_updates()[0]["message"]["successful_payment"]["telegram_payment_charge_id"]

    with pytest.raises(TelegramError) as stranger:
        client.refund_star_payment(user_id=PAYER["id"] + 1, telegram_payment_charge_id=charge)
    client.refund_star_payment(user_id=PAYER["id"], telegram_payment_charge_id=charge)
    with pytest.raises(TelegramError) as again:
        client.refund_star_payment(user_id=PAYER["id"], telegram_payment_charge_id=charge)

    assert "CHARGE_NOT_FOUND" in stranger.value.message and not stranger.value.already_refunded
    assert again.value.already_refunded and not again.value.retryable
    refund, incoming = client.get_star_transactions()  # newest first
    assert (refund.id, refund.incoming, refund.amount) == (charge, False, 250)
    assert incoming.incoming and sandbox.telegram.refunds_of_charge(charge) == 1


def test_star_transactions_page_newest_first(fake) -> None:
    client, sandbox, _ = fake
    for stars in (1, 2, 3):
        sandbox.telegram.pay_invoice(invoice(client, stars=stars), user=PAYER)

    assert [t.amount for t in client.get_star_transactions(limit=2)] == [3, 2]
    assert [t.amount for t in client.get_star_transactions(offset=2, limit=2)] == [1]
    assert raw_call(client, "getStarTransactions", {"limit": 101}).status_code == 400


@pytest.mark.parametrize(("change", "description"), [
    ({"currency": "RUB"}, "CURRENCY_INVALID"),
    ({"provider_token": "381764678:TEST:1"}, "PROVIDER_TOKEN_INVALID"),
    ({"prices": [{"label": "a", "amount": 1}, {"label": "b", "amount": 1}]}, "STARS_INVOICE_INVALID"),
    ({"payload": "x" * 129}, "PAYLOAD_INVALID"),
    ({"payload": ""}, "PAYLOAD_INVALID"),
])
def test_create_invoice_link_refuses_what_telegram_refuses(fake, change, description) -> None:
    client, _, _ = fake
    body = {"title": "t", "description": "d", "payload": "p", "provider_token": "", "currency": "XTR",
            "prices": [{"label": "starter", "amount": 250}], **change}

    answer = raw_call(client, "createInvoiceLink", body)

    assert answer.status_code == 400 and description in answer.json()["description"]


def test_gateway_refuses_an_oversized_payload_before_calling(fake) -> None:
    client, sandbox, _ = fake
    with pytest.raises(TelegramError) as refused:
        invoice(client, payload="x" * 129)
    assert refused.value.code == 400
    assert sandbox.telegram.state()["call_counts"].get("createInvoiceLink") is None


def test_dropped_successful_payment_leaves_only_the_transaction(fake) -> None:
    client, sandbox, bot = fake
    sandbox.telegram.fail(method="successful_payment", error_code="drop")

    assert sandbox.telegram.pay_invoice(invoice(client), user=PAYER) == "paid"

    assert bot.paid_updates() == [] and len(client.get_star_transactions()) == 1


def test_duplicated_and_delayed_successful_payment(fake) -> None:
    client, sandbox, bot = fake
    sandbox.telegram.fail(method="successful_payment", error_code="duplicate")
    sandbox.telegram.pay_invoice(invoice(client), user=PAYER)
    assert len(bot.paid_updates()) == 2
    assert len({u["update_id"] for u in bot.paid_updates()}) == 1  # the same update, re-sent

    sandbox.telegram.fail(method="successful_payment", delay_ms=400)
    assert sandbox.telegram.pay_invoice(invoice(client), user=PAYER) == "paid"
    assert len(bot.paid_updates()) == 2
    assert wait_for(lambda: len(bot.paid_updates()) == 3)


def test_invoice_page_is_paid_by_a_person_and_returns_to_the_app(fake) -> None:
    client, sandbox, _ = fake
    url = invoice(client)
    back = "http://127.0.0.1:8000/app/#/payments/7"

    page = requests.get(url, params={"return": back, "user": PAYER["id"]}, timeout=5)
    assert page.status_code == 200 and "Оплатить ⭐ 250" in page.text and "Отмена" in page.text
    paid = requests.post(f"{url}/pay", data={"return": back, "user": PAYER["id"]}, allow_redirects=False,
                         timeout=10)

    assert paid.status_code == 303 and paid.headers["Location"] == back + "?status=paid"
    assert sandbox.telegram.invoice(url)["payer_id"] == PAYER["id"]
    assert requests.get(url, params={"return": "https://evil.example/"}, timeout=5).status_code == 400


def test_cancelled_invoice_cannot_be_paid(fake) -> None:
    client, sandbox, bot = fake
    url = invoice(client)

    assert sandbox.telegram.cancel_invoice(url) == "cancelled"

    answer = requests.post(f"{url}/pay", json={"user": PAYER}, timeout=5)
    assert answer.status_code == 409 and sandbox.telegram.invoice_status(url) == "cancelled"
    assert bot.updates == []


def test_pay_without_waiting_is_pending_then_paid(fake) -> None:
    client, sandbox, _ = fake
    url = invoice(client)

    assert sandbox.telegram.pay_invoice(url, user=PAYER, wait=False) == "pending"

    assert wait_for(lambda: sandbox.telegram.invoice_status(url) == "paid")
    assert json.dumps(sandbox.telegram.invoice(url)).count("stxp") == 1
