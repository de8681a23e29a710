"""The T-Bank fake as a terminal with an online cash register and as a two-stage terminal, at the wire: Receipt
required on Init (309) and on a partial Cancel, item sums checked (308), RECEIPT notifications after payment and
each refund, CANCELED notified, PayType honoured — and the gateway's PayType "O" and error classes against it.

The fake's server, the notification receiver and their fixtures are test_tbank.py's, imported (hence F811 where
a test names a fixture)."""
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest
import requests

from gateways.tbank import TBankClient, TBankError, TBankValidationError, make_token, verify_notification
from rules.receipts import receipt
from sandbox.client import SandboxClient
from sandbox.server import ServerHandle
from tests.gateways.test_tbank import (  # noqa: F401 — the T-Bank fake, its receiver and their fixtures
    PASSWORD,
    TERMINAL,
    Receiver,
    client,
    complete,
    configure,
    fake,
    receiver,
    served_receiver,
    tbank,
    wait_for,
)

EMAIL = "buyer@example.com"


def order_receipt(amount: int, photos: int = 15) -> dict[str, Any]:
    return receipt(amount_kopecks=amount, photos=photos, email=EMAIL, taxation="usn_income", tax="none")


def raw_call(tbank: ServerHandle, method: str, **fields: Any) -> dict[str, Any]:
    """A signed request as the bank's documentation shows it, without the gateway's defaults (no PayType)."""
    body = {"TerminalKey": TERMINAL, **fields}
    body["Token"] = make_token(body, PASSWORD)
    return requests.post(f"{tbank.url}/v2/{method}", json=body, timeout=5).json()


def statuses(receiver: Receiver) -> list[str]:
    return sorted(b["Status"] for b in receiver.bodies)


def test_a_cash_register_terminal_refuses_init_without_a_receipt_with_309(client: TBankClient, tbank: ServerHandle,
                                                                          fake) -> None:
    configure(tbank, cash_register=True)
    with pytest.raises(TBankError) as refused:
        client.init(order_id="o-309", amount=99900, description="x", notification_url="http://x/n")
    assert refused.value.code == "309" and not refused.value.retryable and refused.value.invalid_parameters
    with pytest.raises(TBankError, match="code=308"):  # items of 999 ₽ for an Amount of 499 ₽
        client.init(order_id="o-308", amount=49900, description="x", notification_url="http://x/n",
                    receipt=order_receipt(99900))
    bad_item = order_receipt(99900)
    bad_item["Items"][0]["Price"] = 50000  # Price × Quantity ≠ Amount
    with pytest.raises(TBankError, match="code=309"):
        client.init(order_id="o-item", amount=99900, description="x", notification_url="http://x/n",
                    receipt=bad_item)
    assert fake.state()["payments"] == []
    good = client.init(order_id="o-ok", amount=99900, description="x", notification_url="http://x/n",
                       receipt=order_receipt(99900))
    assert fake.state()["payments"][0]["receipt"]["Items"][0]["Amount"] == 99900 and good.status == "NEW"


def test_a_paid_payment_and_each_refund_are_fiscalized_and_reported_as_signed_receipts(
        client: TBankClient, tbank: ServerHandle, receiver: Receiver) -> None:
    configure(tbank, cash_register=True)
    payment = client.init(order_id="o-fiscal", amount=99900, description="x", notification_url=receiver.url,
                          receipt=order_receipt(99900))
    assert complete(tbank, payment.payment_id, "success")["Status"] == "CONFIRMED"
    wait_for(lambda: len(receiver.bodies) == 3)
    (income,) = [b for b in receiver.bodies if b["Status"] == "RECEIPT"]
    assert income["Type"] == "Income" and income["Amount"] == 99900 and income["Success"] is True
    assert requests.get(income["ReceiptUrl"], timeout=5).status_code == 200 and income["FiscalNumber"]

    with pytest.raises(TBankError) as no_receipt:  # a partial refund must say what it returns
        client.cancel(payment.payment_id, amount=19980, external_request_id="r-1")
    assert no_receipt.value.code == "309" and not no_receipt.value.retryable
    with pytest.raises(TBankError, match="code=308"):  # the receipt of the whole order, not of the refund
        client.cancel(payment.payment_id, amount=19980, receipt=order_receipt(99900))
    partial = client.cancel(payment.payment_id, amount=19980, external_request_id="r-1",
                            receipt=order_receipt(19980, photos=3))
    assert partial.status == "PARTIAL_REFUNDED"
    wait_for(lambda: len(receiver.bodies) == 5)
    returned = [b for b in receiver.bodies if b.get("Type") == "IncomeReturn"]
    assert [r["Amount"] for r in returned] == [19980]
    assert all(verify_notification(b, PASSWORD) for b in receiver.bodies)
    assert statuses(receiver) == ["AUTHORIZED", "CONFIRMED", "PARTIAL_REFUNDED", "RECEIPT", "RECEIPT"]


def test_a_whole_refund_needs_no_receipt_of_its_own(client: TBankClient, tbank: ServerHandle,
                                                    receiver: Receiver) -> None:
    configure(tbank, cash_register=True)
    payment = client.init(order_id="o-whole", amount=49900, description="x", notification_url=receiver.url,
                          receipt=order_receipt(49900))
    complete(tbank, payment.payment_id, "success")
    assert client.cancel(payment.payment_id).status == "REFUNDED"
    wait_for(lambda: len(receiver.bodies) == 5)
    kinds = sorted((b["Type"], b["Amount"]) for b in receiver.bodies if b["Status"] == "RECEIPT")
    assert kinds == [("Income", 49900), ("IncomeReturn", 49900)]


def test_without_a_cash_register_nothing_is_fiscalized(client: TBankClient, tbank: ServerHandle,
                                                       receiver: Receiver) -> None:
    payment = client.init(order_id="o-plain", amount=49900, description="x", notification_url=receiver.url)
    complete(tbank, payment.payment_id, "success")
    client.cancel(payment.payment_id, amount=10000)
    wait_for(lambda: len(receiver.bodies) == 3)
    assert statuses(receiver) == ["AUTHORIZED", "CONFIRMED", "PARTIAL_REFUNDED"]


def test_a_cancelled_unpaid_payment_is_notified_canceled(client: TBankClient, receiver: Receiver) -> None:
    payment = client.init(order_id="o-cancel", amount=49900, description="x", notification_url=receiver.url)
    assert client.cancel(payment.payment_id).status == "CANCELED"
    wait_for(lambda: len(receiver.bodies) == 1)
    (note,) = receiver.bodies
    assert (note["Status"], note["Amount"], note["Success"]) == ("CANCELED", 49900, False)
    assert verify_notification(note, PASSWORD)


def test_a_two_stage_terminal_holds_the_money_unless_init_says_pay_type_o(tbank: ServerHandle, fake,
                                                                           client: TBankClient,
                                                                           receiver: Receiver) -> None:
    configure(tbank, two_stage=True, cash_register=True)
    held = raw_call(tbank, "Init", Amount=49900, OrderId="o-held", NotificationURL=receiver.url,
                    Receipt=order_receipt(49900))
    assert complete(tbank, held["PaymentId"], "success")["Status"] == "AUTHORIZED"
    assert raw_call(tbank, "GetState", PaymentId=held["PaymentId"])["Status"] == "AUTHORIZED"

    ours = client.init(order_id="o-ours", amount=49900, description="x", notification_url=receiver.url,
                       receipt=order_receipt(49900))
    assert complete(tbank, ours.payment_id, "success")["Status"] == "CONFIRMED"
    assert [r["body"].get("PayType") for r in fake.state()["requests"] if r["method"] == "Init"] == [None, "O"]

    confirmed = raw_call(tbank, "Confirm", PaymentId=held["PaymentId"])  # the held one, charged only now
    assert confirmed["Status"] == "CONFIRMED"
    wait_for(lambda: len([b for b in receiver.bodies if b["Status"] == "RECEIPT"]) == 2)
    assert raw_call(tbank, "Init", Amount=49900, OrderId="o-pt", PayType="X",
                    Receipt=order_receipt(49900))["ErrorCode"] == "9999"


def test_invalid_parameters_are_permanent_and_internal_errors_retryable(client: TBankClient,
                                                                        tbank: ServerHandle) -> None:
    SandboxClient(tbank=tbank.url).tbank.fail({"method": "Init", "error_code": "9999"},
                                              {"method": "Init", "error_code": "96"})
    with pytest.raises(TBankError) as invalid:
        client.init(order_id="o-9999", amount=49900, description="x", notification_url="http://x/n")
    assert invalid.value.code == "9999" and not invalid.value.retryable and invalid.value.invalid_parameters
    with pytest.raises(TBankError) as internal:
        client.init(order_id="o-96", amount=49900, description="x", notification_url="http://x/n")
    assert internal.value.retryable and not internal.value.invalid_parameters
    with pytest.raises(TBankValidationError):
        client.init(order_id="o-pt", amount=49900, description="x", notification_url="http://x/n", pay_type="X")
