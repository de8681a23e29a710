"""POST /webhooks/tbank with the notifications that move no payment: RECEIPT (the payment's and each refund's,
whose Amount is the refunded part), CANCELED, and statuses we do not know — verified, stored, answered exactly
``OK``, and the payment left as it is; an unknown status alerts admins once."""

from __future__ import annotations

from typing import Any

import pytest

from db import payments
from tests.factories import make_avatar, make_paid_payment, make_user
from tests.web.test_webhook_tbank import consume_messages, events, notification, rows, status_of


@pytest.fixture
def confirmed(services) -> dict[str, Any]:
    user = make_user(services)
    return make_paid_payment(services, user, make_avatar(services, user))  # 499 ₽, confirmed here


@pytest.fixture
def unpaid(services) -> dict[str, Any]:
    user = make_user(services)
    return make_paid_payment(services, user, make_avatar(services, user), confirm=False)


def receipt(settings, payment: dict[str, Any], kind: str, amount: int, number: int) -> dict[str, Any]:
    return notification(settings, payment, "RECEIPT", amount=amount, Type=kind, FiscalNumber=number,
                        FiscalDocumentNumber=number, ReceiptUrl=f"https://receipts.example/{number}",
                        Receipt={"Items": [{"Name": "x", "Amount": amount}]})


def kept_receipts(services, payment: dict[str, Any]) -> list[tuple[str, int, str]]:
    found = rows(services, "SELECT kind, amount_kopecks, receipt_url FROM payment_receipts WHERE payment_id = %s "
                           "ORDER BY id", payment["id"])
    return [(r["kind"], r["amount_kopecks"], r["receipt_url"]) for r in found]


def alerts(services) -> list[dict[str, Any]]:
    return rows(services, "SELECT kind, dedup_key FROM admin_alerts ORDER BY id")


def test_the_payments_and_a_refunds_receipts_are_kept_once_and_move_nothing(client, services, settings,
                                                                            confirmed) -> None:
    sent = [receipt(settings, confirmed, "Income", 49900, 1),
            receipt(settings, confirmed, "IncomeReturn", 6521, 2),  # a refund's receipt: the refunded amount
            receipt(settings, confirmed, "IncomeReturn", 6521, 2),  # T-Bank re-sends
            receipt(settings, confirmed, "IncomeReturn", 6521, 3)]  # a second refund of the same size
    for body in sent:
        response = client.post("/webhooks/tbank", json=body)
        assert (response.status_code, response.data) == (200, b"OK")

    assert kept_receipts(services, confirmed) == [("Income", 49900, "https://receipts.example/1"),
                                                  ("IncomeReturn", 6521, "https://receipts.example/2"),
                                                  ("IncomeReturn", 6521, "https://receipts.example/3")]
    assert [e["status"] for e in events(services, confirmed)] == ["RECEIPT"] * 3
    with services.pool.connection() as conn:
        after = payments.get(conn, id=confirmed["id"])
    assert (after["status"], after["refunded_kopecks"]) == ("confirmed", 0)
    assert len(consume_messages(services, confirmed)) == 1  # the one make_paid_payment's confirm queued
    assert alerts(services) == []


def test_a_receipt_larger_than_the_payment_is_refused(client, services, settings, confirmed) -> None:
    response = client.post("/webhooks/tbank", json=receipt(settings, confirmed, "Income", 49901, 1))

    assert response.status_code == 422 and response.get_json()["error"]["code"] == "AMOUNT_MISMATCH"
    assert kept_receipts(services, confirmed) == [] and events(services, confirmed) == []


def test_canceled_is_stored_and_left_to_whoever_cancelled(client, services, settings, unpaid, confirmed) -> None:
    """Only we cancel (the 48 h close, which closes the row and tells the payer itself): the notification that
    follows is stored and moves nothing, so it cannot win that race; a paid payment is never touched."""
    for payment in (unpaid, confirmed):
        body = notification(settings, payment, "CANCELED", Success=False)
        response = client.post("/webhooks/tbank", json=body)
        assert (response.status_code, response.data) == (200, b"OK")

    assert status_of(services, unpaid) == "new" and status_of(services, confirmed) == "confirmed"
    assert [e["status"] for e in events(services, unpaid)] == ["CANCELED"]
    assert [e["status"] for e in events(services, confirmed)] == ["CANCELED"]


def test_an_unknown_status_is_stored_answered_ok_and_alerted_once(client, services, settings, unpaid,
                                                                  confirmed) -> None:
    for payment in (unpaid, unpaid, confirmed):
        response = client.post("/webhooks/tbank", json=notification(settings, payment, "PARTIAL_CONFIRMED_V3"))
        assert (response.status_code, response.data) == (200, b"OK")

    assert (status_of(services, unpaid), status_of(services, confirmed)) == ("new", "confirmed")
    assert [e["status"] for e in events(services, unpaid)] == ["PARTIAL_CONFIRMED_V3"]
    assert alerts(services) == [{"kind": "tbank_unknown_status",
                                 "dedup_key": "tbank_unknown_status:PARTIAL_CONFIRMED_V3"}]
    outbox = rows(services, "SELECT * FROM outbox WHERE actor_name = 'notify_admin'")
    assert len(outbox) == 1  # announced once
