"""POST /webhooks/tbank over HTTP: authentic notifications move payments forward exactly once; forged,
mismatched or malformed ones change nothing; the answer stays "OK" while Redis is down."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import redis

from db import payments
from gateways.tbank import make_token
from rules.catalog import parse_tiers
from sandbox.client import SandboxClient
from settings import Settings
from tests.conftest import free_port
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.integration.pipeline_helpers import tbank_state
from web import create_app
from workers.broker import build_broker
from workers.publisher import publish


def notification(settings: Settings, payment: dict[str, Any], status: str, *, amount: int | None = None,
                 password: str | None = None, **fields: Any) -> dict[str, Any]:
    """A notification shaped and signed as T-Bank sends it (PaymentId a number)."""
    body: dict[str, Any] = {
        "TerminalKey": settings.tbank_terminal_key, "OrderId": payment["order_id"], "Success": True,
        "Status": status, "PaymentId": int(payment["provider_payment_id"]), "ErrorCode": "0",
        "Amount": payment["amount_kopecks"] if amount is None else amount, "CardId": 1234567,
        "Pan": "430000******0777", "ExpDate": "1230", **fields}
    body["Token"] = make_token(body, password or settings.tbank_password)
    return body


def rows(services, query: str, *params: Any) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        return conn.execute(query, params).fetchall()


def events(services, payment: dict[str, Any]) -> list[dict[str, Any]]:
    return rows(services, "SELECT status, amount_kopecks, raw FROM payment_events WHERE provider_payment_id = %s "
                          "ORDER BY id", payment["provider_payment_id"])


def consume_messages(services, payment: dict[str, Any]) -> list[dict[str, Any]]:
    return rows(services, "SELECT * FROM outbox WHERE actor_name = 'consume_payment' AND args = %s::jsonb",
                f"[{payment['id']}]")


def status_of(services, payment: dict[str, Any]) -> str:
    with services.pool.connection() as conn:
        return payments.get(conn, id=payment["id"])["status"]


@pytest.fixture
def unpaid(services) -> dict[str, Any]:
    """A payment Init-ed and paid at the fake, not yet confirmed here (its notifications went nowhere)."""
    user = make_user(services)
    return make_paid_payment(services, user, make_avatar(services, user), confirm=False)


def test_confirmed_notification_confirms_payment_and_queues_consume(client, services, settings, unpaid) -> None:
    response = client.post("/webhooks/tbank", json=notification(settings, unpaid, "CONFIRMED"))

    assert response.status_code == 200
    assert response.data == b"OK" and response.mimetype == "text/plain"
    assert status_of(services, unpaid) == "confirmed"
    assert [e["status"] for e in events(services, unpaid)] == ["CONFIRMED"]
    queued = consume_messages(services, unpaid)
    assert len(queued) == 1 and queued[0]["published_at"] is not None


def test_forged_token_is_refused_and_changes_nothing(client, services, settings, unpaid) -> None:
    forged = notification(settings, unpaid, "CONFIRMED", password="not-our-password")
    missing = {k: v for k, v in notification(settings, unpaid, "CONFIRMED").items() if k != "Token"}
    tampered = {**notification(settings, unpaid, "REJECTED"), "Status": "CONFIRMED"}

    for body in (forged, missing, tampered):
        response = client.post("/webhooks/tbank", json=body)
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "BAD_TOKEN"
    assert status_of(services, unpaid) == "new"
    assert events(services, unpaid) == [] and consume_messages(services, unpaid) == []


def test_duplicate_and_reordered_notifications_change_nothing(client, services, settings, unpaid) -> None:
    for status in ("CONFIRMED", "CONFIRMED", "AUTHORIZED", "AUTHORIZED", "CONFIRMED"):
        response = client.post("/webhooks/tbank", json=notification(settings, unpaid, status))
        assert (response.status_code, response.data) == (200, b"OK")

    assert status_of(services, unpaid) == "confirmed"
    assert sorted(e["status"] for e in events(services, unpaid)) == ["AUTHORIZED", "CONFIRMED"]
    assert len(consume_messages(services, unpaid)) == 1


@pytest.mark.parametrize(("change", "code"), [
    ({"amount": 100}, "AMOUNT_MISMATCH"),
    ({"OrderId": "someone-elses-order"}, "ORDER_MISMATCH"),
    ({"TerminalKey": "AnotherTerminal"}, "TERMINAL_MISMATCH"),
])
def test_mismatched_notification_is_refused_and_writes_nothing(client, services, settings, unpaid, change,
                                                                code) -> None:
    response = client.post("/webhooks/tbank", json=notification(settings, unpaid, "CONFIRMED", **change))

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == code
    assert status_of(services, unpaid) == "new"
    assert events(services, unpaid) == [] and consume_messages(services, unpaid) == []


def test_notification_for_unknown_payment_is_404(client, services, settings, unpaid) -> None:
    stranger = {**unpaid, "provider_payment_id": "987654321"}
    response = client.post("/webhooks/tbank", json=notification(settings, stranger, "CONFIRMED"))

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "UNKNOWN_PAYMENT"
    assert rows(services, "SELECT * FROM payment_events") == []


def test_malformed_notifications_are_400(client, services, settings, unpaid) -> None:
    not_json = client.post("/webhooks/tbank", data=b"{nope", content_type="application/json")
    not_object = client.post("/webhooks/tbank", json=[1, 2])
    bad_amount = client.post("/webhooks/tbank", json=notification(settings, unpaid, "CONFIRMED", amount="9.99"))

    for response in (not_json, not_object, bad_amount):
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "INVALID_NOTIFICATION"
    assert status_of(services, unpaid) == "new" and events(services, unpaid) == []


def test_refund_notification_carries_the_refund_amount_and_is_accepted(client, services, settings) -> None:
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), confirm=True)

    response = client.post("/webhooks/tbank", json=notification(settings, payment, "PARTIAL_REFUNDED", amount=7000))
    too_much = client.post("/webhooks/tbank", json=notification(settings, payment, "REFUNDED",
                                                                amount=payment["amount_kopecks"] + 1))

    assert (response.status_code, response.data) == (200, b"OK")
    assert too_much.status_code == 422
    assert status_of(services, payment) == "partially_refunded"
    assert [e["amount_kopecks"] for e in events(services, payment)] == [7000]


def test_refunded_notification_before_our_bookkeeping_keeps_the_refunded_kopecks(client, services,
                                                                                 settings) -> None:
    user = make_user(services)
    payment = make_paid_payment(services, user, make_avatar(services, user), confirm=True)

    client.post("/webhooks/tbank", json=notification(settings, payment, "REFUNDED"))
    with services.pool.connection() as conn:
        booked = payments.add_refunded(conn, id=payment["id"], amount=payment["amount_kopecks"])

    assert booked is not None
    assert (booked["status"], booked["refunded_kopecks"]) == ("refunded", payment["amount_kopecks"])


def test_fake_bank_notifications_reach_us_and_are_answered_ok(live_web, services, settings) -> None:
    """The T-Bank fake pays and notifies AUTHORIZED + CONFIRMED concurrently, each twice, at our real URL."""
    bank = SandboxClient.from_settings(settings).tbank
    bank.configure(notify_duplicates=2)
    user = make_user(services)
    avatar = make_avatar(services, user)
    tier = parse_tiers(settings.tiers)["starter"]
    order_id = f"t-{uuid.uuid4().hex[:20]}"
    with services.pool.connection() as conn, conn.transaction():
        payment = payments.insert(conn, user_id=user["id"], avatar_id=avatar["id"], style_id="business",
                                  tier="starter", photo_count=tier.photos, amount_kopecks=tier.price_kopecks,
                                  order_id=order_id, ttl_s=3600)
        init = services.tbank.init(order_id=order_id, amount=tier.price_kopecks, description="PinGlass",
                                   notification_url=f"{live_web}/webhooks/tbank")
        payment = payments.set_provider(conn, id=payment["id"], provider_payment_id=init.payment_id,
                                        payment_url=init.payment_url)

    bank.pay(init.payment_id, "success")

    deadline = time.monotonic() + 10
    deliveries: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        deliveries = [d for d in tbank_state(services)["notifications"] if d["payment_id"] == init.payment_id]
        if len(deliveries) == 4 and all(d["delivered"] for d in deliveries):
            break
        time.sleep(0.1)
    assert len(deliveries) == 4 and all(d["delivered"] for d in deliveries), deliveries
    assert all(a["body"] == "OK" for d in deliveries for a in d["attempts"] if a["ok"])
    assert status_of(services, payment) == "confirmed"
    assert sorted(e["status"] for e in events(services, payment)) == ["AUTHORIZED", "CONFIRMED"]
    assert len(consume_messages(services, payment)) == 1


@pytest.fixture
def throwaway_redis() -> Iterator[dict[str, Any]]:
    """A redis-server of this test's own on a free port (never the shared one), restartable on that port."""
    port = free_port()
    box: dict[str, Any] = {"port": port, "url": f"redis://127.0.0.1:{port}/0", "proc": None}

    def start() -> None:
        box["proc"] = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                        "--appendonly", "no", "--daemonize", "no"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("throwaway redis-server did not start")

    def stop() -> None:
        proc = box["proc"]
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        box["proc"] = None

    box["start"], box["stop"] = start, stop
    start()
    yield box
    stop()


def test_notification_is_answered_ok_while_redis_is_down_and_published_when_back(
        services, settings, broker, unpaid, throwaway_redis) -> None:
    down_broker = build_broker(Settings(redis_url=throwaway_redis["url"]), namespace="pinglass-down",
                               manage_services=False)
    down_broker.declare_actor(broker.get_actor("consume_payment"))
    throwaway_redis["stop"]()
    client = create_app(settings, services=services, broker=down_broker).test_client()

    response = client.post("/webhooks/tbank", json=notification(settings, unpaid, "CONFIRMED"))

    assert (response.status_code, response.data) == (200, b"OK")
    assert status_of(services, unpaid) == "confirmed"
    [row] = consume_messages(services, unpaid)
    assert row["published_at"] is None  # waiting for the relay

    throwaway_redis["start"]()
    assert publish(services.pool, down_broker, older_than_s=0, via="relay") == 1
    [row] = consume_messages(services, unpaid)
    assert row["published_at"] is not None
    queued = redis.Redis(port=throwaway_redis["port"]).hvals("pinglass-down:payments.msgs")
    assert [dramatiq.Message.decode(data).message_id for data in queued] == [row["message_id"]]
    down_broker.close()


def test_money_taken_for_a_payment_we_had_expired_alerts_the_admins(client, services, settings, unpaid) -> None:
    with services.pool.connection() as conn:
        payments.move_status(conn, id=unpaid["id"], new="expired")

    response = client.post("/webhooks/tbank", json=notification(settings, unpaid, "CONFIRMED"))

    assert response.status_code == 200 and response.data == b"OK"
    assert status_of(services, unpaid) == "expired" and consume_messages(services, unpaid) == []
    alerts = rows(services, "SELECT kind, severity, details FROM admin_alerts")
    assert [(a["kind"], a["severity"], a["details"]["payment_id"]) for a in alerts] == [
        ("payment_after_close", "critical", unpaid["id"])]
