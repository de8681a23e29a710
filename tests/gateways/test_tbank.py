"""The T-Bank gateway against the T-Bank fake, over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest
import requests

from gateways.tbank import (
    InvalidNotification,
    PaymentState,
    TBankClient,
    TBankError,
    TBankValidationError,
    make_token,
    parse_notification,
    verify_notification,
)
from rules.receipts import receipt as order_receipt
from sandbox.client import SandboxClient
from sandbox.server import ServerHandle, serve
from sandbox.tbank import TBankFake, TBankFakeConfig, config_from_env, create_app, sandbox_token
from settings import Settings

TERMINAL, PASSWORD = "SandboxTerminal", "sandbox-terminal-password"
PUBLIC_EXAMPLE = {"Amount": 19200, "Description": "Подарочная карта на 1000 рублей", "OrderId": "21090",
                  "TerminalKey": "MerchantTerminalKey"}
PUBLIC_EXAMPLE_TOKEN = "0024a00af7c350a3a67ca168ce06502aa72772456662e38696d48b56ee9c97d9"


class Receiver:
    """Our side of the notifications: records what reaches the current test's URL, answers a script, then ``OK``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []
        self.script: list[tuple[int, str]] = []
        self.base, self.test = "", ""
        self.app = flask.Flask("tbank-receiver")
        self.app.add_url_rule("/notify/<test>", "notify", self._notify, methods=["POST"])

    @property
    def url(self) -> str:
        return f"{self.base}/notify/{self.test}"

    def _notify(self, test: str) -> tuple[str, int]:
        with self.lock:
            if test != self.test:  # a late re-send meant for an earlier test
                return "OK", 200
            self.bodies.append(flask.request.get_json())
            status, text = self.script.pop(0) if self.script else (200, "OK")
        return text, status


@pytest.fixture(scope="module")
def tbank() -> Iterator[ServerHandle]:
    handle = serve("tbank", create_app(TBankFakeConfig(notify_retry_interval_s=0.05, notify_timeout_s=2)), port=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def served_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    handle = serve("tbank-receiver", receiver.app, port=0)
    receiver.base = handle.url
    yield receiver
    handle.stop()


@pytest.fixture
def fake(tbank: ServerHandle) -> Iterator[TBankFake]:
    assert SandboxClient(tbank=tbank.url).tbank.post("reset").json() == {"ok": True}
    yield tbank.server.app.extensions["fake"]  # type: ignore[attr-defined]
    SandboxClient(tbank=tbank.url).tbank.reset()  # stop this test's pending re-sends


@pytest.fixture
def receiver(served_receiver: Receiver, request: pytest.FixtureRequest) -> Receiver:
    with served_receiver.lock:
        served_receiver.test, served_receiver.bodies, served_receiver.script = request.node.name, [], []
    return served_receiver


@pytest.fixture
def client(tbank: ServerHandle, fake: TBankFake) -> TBankClient:
    return TBankClient(f"{tbank.url}/v2", TERMINAL, PASSWORD)


def configure(tbank: ServerHandle, **knobs: object) -> None:
    SandboxClient(tbank=tbank.url).tbank.configure(**knobs)


def complete(tbank: ServerHandle, payment_id: str, outcome: str) -> dict[str, Any]:
    response = requests.post(f"{tbank.url}/pay/{payment_id}", json={"outcome": outcome}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def paid(client: TBankClient, tbank: ServerHandle, receiver: Receiver) -> str:
    payment = client.init(order_id="o-1", amount=49900, description="Standard", notification_url=receiver.url)
    assert complete(tbank, payment.payment_id, "success")["Status"] == "CONFIRMED"
    return payment.payment_id


def test_token_matches_the_documented_example_and_writes_booleans_and_whole_numbers_as_the_bank_does() -> None:
    assert make_token(PUBLIC_EXAMPLE, "usaf8fw8fsw21g") == PUBLIC_EXAMPLE_TOKEN
    assert sandbox_token(PUBLIC_EXAMPLE, "usaf8fw8fsw21g") == PUBLIC_EXAMPLE_TOKEN
    nested = {**PUBLIC_EXAMPLE, "DATA": {"k": "v"}, "Receipt": {"Items": []}, "Token": "x", "Shops": [1]}
    assert make_token(nested, "usaf8fw8fsw21g") == PUBLIC_EXAMPLE_TOKEN
    expected = hashlib.sha256(b"100pwtrue").hexdigest()  # Amount, Password, Success, sorted by key
    assert make_token({"Success": True, "Amount": 100.0}, "pw") == expected
    assert sandbox_token({"Success": True, "Amount": 100.0}, "pw") == expected


def test_init_get_state_and_cancel_of_an_unpaid_payment(client: TBankClient, tbank: ServerHandle,
                                                        receiver: Receiver) -> None:
    payment = client.init(order_id="order-1", amount=49900, description="Starter: 7 portraits",
                          notification_url=receiver.url, success_url="https://t.me/ok", data={"avatar": "42"},
                          redirect_due_date=datetime.now(UTC) + timedelta(hours=1))
    assert payment.status == "NEW" and payment.order_id == "order-1" and payment.amount == 49900
    assert payment.payment_id.isdigit() and payment.payment_url == f"{tbank.url}/pay/{payment.payment_id}"
    assert client.get_state(payment.payment_id) == PaymentState(payment.payment_id, "NEW", 49900, "order-1")
    canceled = client.cancel(payment.payment_id)
    assert (canceled.status, canceled.original_amount, canceled.new_amount) == ("CANCELED", 49900, 0)
    from_settings = TBankClient.from_settings(Settings(tbank_base_url=f"{tbank.url}/v2"))  # defaults = sandbox
    assert from_settings.get_state(payment.payment_id).status == "CANCELED"


def test_wrong_password_terminal_or_amount_is_a_permanent_bank_refusal(tbank: ServerHandle, fake: TBankFake) -> None:
    with pytest.raises(TBankError) as bad_token:
        TBankClient(f"{tbank.url}/v2", TERMINAL, "wrong-password").init(
            order_id="o-204", amount=1000, description="x", notification_url="http://127.0.0.1:1/n")
    assert bad_token.value.code == "204" and bad_token.value.bad_token and not bad_token.value.retryable
    with pytest.raises(TBankError) as no_terminal:
        TBankClient(f"{tbank.url}/v2", "NoSuchTerminal", PASSWORD).get_state("7000000001")
    assert no_terminal.value.code == "501" and not no_terminal.value.retryable
    with pytest.raises(TBankError) as too_small:
        TBankClient(f"{tbank.url}/v2", TERMINAL, PASSWORD).init(
            order_id="o-min", amount=99, description="x", notification_url="http://x/n")
    assert too_small.value.code == "251" and not too_small.value.retryable
    assert fake.state()["payments"] == []


def test_order_id_reused_after_a_successful_payment_is_refused_with_623(client: TBankClient, tbank: ServerHandle,
                                                                       receiver: Receiver) -> None:
    first = client.init(order_id="o-623", amount=49900, description="x", notification_url=receiver.url)
    second = client.init(order_id="o-623", amount=49900, description="x", notification_url=receiver.url)
    assert second.payment_id != first.payment_id  # an unpaid OrderId may be tried again
    complete(tbank, second.payment_id, "success")
    with pytest.raises(TBankError) as caught:
        client.init(order_id="o-623", amount=49900, description="x", notification_url=receiver.url)
    assert caught.value.code == "623" and caught.value.order_already_paid and not caught.value.retryable


@pytest.mark.parametrize("kwargs", [
    {"amount": 0}, {"amount": -5}, {"amount": 499.0}, {"amount": True}, {"order_id": "x" * 37},
    {"order_id": ""}, {"description": "d" * 141}, {"data": {f"k{i}": "v" for i in range(21)}},
    {"redirect_due_date": datetime(2030, 1, 1)},
])
def test_bad_init_arguments_are_refused_locally_without_a_call(client: TBankClient, fake: TBankFake,
                                                               kwargs: dict[str, Any]) -> None:
    with pytest.raises(TBankValidationError) as caught:
        client.init(**{"order_id": "o-ok", "amount": 1000, "description": "ok", "notification_url": "http://x/n",
                       **kwargs})
    assert isinstance(caught.value, ValueError) and not caught.value.retryable
    assert fake.state()["requests"] == []


def test_payment_page_success_sends_signed_authorized_and_confirmed(client: TBankClient, tbank: ServerHandle,
                                                                    receiver: Receiver) -> None:
    payment = client.init(order_id="o-page", amount=99900, description="Standard", notification_url=receiver.url,
                          success_url="https://t.me/PinGlassBot?start=paid", data={"job": "7"})
    page = requests.get(payment.payment_url, timeout=5)
    assert page.status_code == 200 and ">Pay<" in page.text and ">Decline<" in page.text
    assert client.get_state(payment.payment_id).status == "FORM_SHOWED"
    paid_page = requests.post(payment.payment_url, data={"outcome": "success"}, allow_redirects=False, timeout=5)
    assert paid_page.status_code == 303 and paid_page.headers["Location"].endswith("start=paid")
    wait_for(lambda: len(receiver.bodies) == 2)
    assert sorted(body["Status"] for body in receiver.bodies) == ["AUTHORIZED", "CONFIRMED"]
    for body in receiver.bodies:
        assert verify_notification(body, PASSWORD)
        assert body["PaymentId"] == int(payment.payment_id) and body["Amount"] == 99900 and body["Success"] is True
        assert body["DATA"] == {"job": "7"} and body["TerminalKey"] == TERMINAL
        note = parse_notification(body)
        assert (note.payment_id, note.order_id, note.amount, note.error_code) == (payment.payment_id, "o-page",
                                                                                  99900, "0")
        assert not verify_notification({**body, "Amount": 1}, PASSWORD)
        assert not verify_notification({**body, "Status": "REFUNDED"}, PASSWORD)
        assert not verify_notification(body, "another-password")
    assert client.get_state(payment.payment_id).status == "CONFIRMED"


def test_confirmed_first_knob_delivers_confirmed_before_authorized(client: TBankClient, tbank: ServerHandle,
                                                                   receiver: Receiver) -> None:
    configure(tbank, notify_confirmed_first=True)
    paid(client, tbank, receiver)
    wait_for(lambda: len(receiver.bodies) == 2)
    assert [body["Status"] for body in receiver.bodies] == ["CONFIRMED", "AUTHORIZED"]


def test_duplicates_knob_sends_each_notification_that_many_times(client: TBankClient, tbank: ServerHandle,
                                                                 receiver: Receiver, fake: TBankFake) -> None:
    configure(tbank, notify_duplicates=3)
    paid(client, tbank, receiver)
    wait_for(lambda: len(receiver.bodies) == 6)
    assert sorted(body["Status"] for body in receiver.bodies) == ["AUTHORIZED"] * 3 + ["CONFIRMED"] * 3
    wait_for(lambda: [d["delivered"] for d in fake.state()["notifications"]] == [True] * 6)


def test_notification_is_resent_until_the_answer_is_exactly_ok(client: TBankClient, tbank: ServerHandle,
                                                               receiver: Receiver, fake: TBankFake) -> None:
    receiver.script.extend([(500, "OK"), (200, "ok"), (200, "OK\n"), (200, "{\"ok\": true}")])
    payment = client.init(order_id="o-retry", amount=49900, description="x", notification_url=receiver.url)
    complete(tbank, payment.payment_id, "decline")
    wait_for(lambda: any(d["delivered"] for d in fake.state()["notifications"]))
    (delivery,) = fake.state()["notifications"]
    answers = [(a["http_status"], a["body"], a["ok"]) for a in delivery["attempts"]]
    assert answers == [(500, "OK", False), (200, "ok", False), (200, "OK\n", False), (200, "{\"ok\": true}", False),
                       (200, "OK", True)]
    assert len(receiver.bodies) == 5 and all(body == receiver.bodies[0] for body in receiver.bodies)
    note = parse_notification(receiver.bodies[0])
    assert (note.status, note.success, note.error_code) == ("REJECTED", False, "1051")
    assert client.get_state(payment.payment_id).status == "REJECTED"


def test_notification_gives_up_after_the_last_attempt(client: TBankClient, tbank: ServerHandle,
                                                      receiver: Receiver, fake: TBankFake) -> None:
    configure(tbank, notify_max_attempts=3)
    receiver.script.extend([(503, "busy")] * 10)
    payment = client.init(order_id="o-give-up", amount=49900, description="x", notification_url=receiver.url)
    complete(tbank, payment.payment_id, "decline")
    wait_for(lambda: any(d["gave_up"] for d in fake.state()["notifications"]))
    (delivery,) = fake.state()["notifications"]
    assert [a["http_status"] for a in delivery["attempts"]] == [503, 503, 503] and not delivery["delivered"]


def test_same_external_request_id_refunds_once_and_answers_the_same(client: TBankClient, tbank: ServerHandle,
                                                                    receiver: Receiver,
                                                                    fake: TBankFake) -> None:
    payment_id = paid(client, tbank, receiver)
    first = client.cancel(payment_id, amount=10000, external_request_id="refund-job-1")
    again = client.cancel(payment_id, amount=10000, external_request_id="refund-job-1")
    assert first == again
    assert (first.status, first.original_amount, first.new_amount) == ("PARTIAL_REFUNDED", 49900, 39900)
    (record,) = fake.state()["payments"]
    assert [(r["external_request_id"], r["amount"]) for r in record["refunds"]] == [("refund-job-1", 10000)]
    assert record["remaining"] == 39900


def test_partial_then_full_refund_goes_partial_refunded_then_refunded(client: TBankClient, tbank: ServerHandle,
                                                                      receiver: Receiver) -> None:
    payment_id = paid(client, tbank, receiver)
    partial = client.cancel(payment_id, amount=20000, external_request_id="r-1")
    assert (partial.status, partial.original_amount, partial.new_amount) == ("PARTIAL_REFUNDED", 49900, 29900)
    full = client.cancel(payment_id, external_request_id="r-2")
    assert (full.status, full.original_amount, full.new_amount) == ("REFUNDED", 29900, 0)
    assert client.get_state(payment_id).status == "REFUNDED"
    wait_for(lambda: len(receiver.bodies) == 4)
    refunds = sorted((b["Status"], b["Amount"]) for b in receiver.bodies if "REFUND" in b["Status"])
    assert refunds == [("PARTIAL_REFUNDED", 20000), ("REFUNDED", 29900)]
    assert all(verify_notification(body, PASSWORD) for body in receiver.bodies)


def test_refunds_never_exceed_what_was_paid(client: TBankClient, tbank: ServerHandle, receiver: Receiver,
                                            fake: TBankFake) -> None:
    payment_id = paid(client, tbank, receiver)
    client.cancel(payment_id, amount=30000)
    with pytest.raises(TBankError) as too_much:
        client.cancel(payment_id, amount=20000)
    assert too_much.value.code == "330" and not too_much.value.retryable
    assert client.cancel(payment_id).new_amount == 0
    with pytest.raises(TBankError) as nothing_left:
        client.cancel(payment_id, amount=1)
    assert nothing_left.value.code == "4"
    (record,) = fake.state()["payments"]
    assert sum(r["amount"] for r in record["refunds"]) == 49900 and record["status"] == "REFUNDED"


def test_two_stage_payment_is_reversed_not_refunded(client: TBankClient, tbank: ServerHandle,
                                                    receiver: Receiver) -> None:
    payment = client.init(order_id="o-2s", amount=50000, description="x", notification_url=receiver.url,
                          pay_type="T")
    assert complete(tbank, payment.payment_id, "success")["Status"] == "AUTHORIZED"
    assert client.cancel(payment.payment_id, amount=10000).status == "PARTIAL_REVERSED"
    assert client.cancel(payment.payment_id).status == "REVERSED"
    wait_for(lambda: len(receiver.bodies) == 3)
    assert sorted(b["Status"] for b in receiver.bodies) == ["AUTHORIZED", "PARTIAL_REVERSED", "REVERSED"]


def test_abandoned_payment_expires_at_its_deadline_without_a_notification(client: TBankClient, tbank: ServerHandle,
                                                                          receiver: Receiver,
                                                                          fake: TBankFake) -> None:
    configure(tbank, deadline_s=0.1)
    payment = client.init(order_id="o-abandon", amount=49900, description="x", notification_url=receiver.url)
    requests.get(payment.payment_url, timeout=5)
    assert complete(tbank, payment.payment_id, "abandon")["Status"] == "FORM_SHOWED"
    wait_for(lambda: client.get_state(payment.payment_id).status == "DEADLINE_EXPIRED")
    history = [h["status"] for h in fake.state()["payments"][0]["history"]]
    assert history == ["NEW", "FORM_SHOWED", "DEADLINE_EXPIRED"]
    assert receiver.bodies == [] and fake.state()["notifications"] == []


def test_notify_endpoint_resends_any_status_on_demand(client: TBankClient, tbank: ServerHandle,
                                                      receiver: Receiver) -> None:
    payment_id = paid(client, tbank, receiver)
    wait_for(lambda: len(receiver.bodies) == 2)
    response = SandboxClient(tbank=tbank.url).tbank.post(f"payments/{payment_id}/notify",
                                                         {"status": "CONFIRMED", "times": 2})
    assert response.status_code == 202
    wait_for(lambda: len(receiver.bodies) == 4)
    assert [b["Status"] for b in receiver.bodies[2:]] == ["CONFIRMED", "CONFIRMED"]
    assert all(verify_notification(b, PASSWORD) for b in receiver.bodies)


def test_failures_that_may_pass_later_are_retryable_and_others_not(client: TBankClient, tbank: ServerHandle) -> None:
    SandboxClient(tbank=tbank.url).tbank.fail({"method": "GetState", "error_code": "97"},
                                              {"method": "Init", "http_status": 503})
    with pytest.raises(TBankError) as internal:
        client.get_state("7000000001")
    assert internal.value.code == "97" and internal.value.retryable
    with pytest.raises(TBankError) as unavailable:
        client.init(order_id="o-503", amount=1000, description="x", notification_url="http://x/n")
    assert unavailable.value.http_status == 503 and unavailable.value.retryable
    with pytest.raises(TBankError, match="code=255 retryable=False"):  # failures used up: the real answer
        client.get_state("7000000001")
    with pytest.raises(TBankError) as unreachable:
        TBankClient("http://127.0.0.1:9/v2", TERMINAL, PASSWORD).get_state("7000000001")
    assert unreachable.value.retryable and unreachable.value.code is None


def test_password_and_token_never_reach_the_logs(client: TBankClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    payment = client.init(order_id="o-log", amount=1000, description="x", notification_url="http://x/n")
    client.get_state(payment.payment_id)
    token = make_token({"TerminalKey": TERMINAL, "PaymentId": payment.payment_id}, PASSWORD)
    text = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "tbank_payment_created" in text and PASSWORD not in text and token not in text
    assert PASSWORD not in repr(client)


@pytest.mark.parametrize("change", [
    {"Amount": "49900"}, {"Amount": 499.5}, {"Amount": True}, {"Success": "true"}, {"PaymentId": "abc"},
    {"PaymentId": None}, {"OrderId": 21090}, {"Status": ""}, {"ErrorCode": None}, {"TerminalKey": None},
])
def test_parse_notification_rejects_wrong_types(change: dict[str, Any]) -> None:
    body = {"TerminalKey": TERMINAL, "OrderId": "o-1", "Success": True, "Status": "CONFIRMED",
            "PaymentId": 7000000001, "ErrorCode": "0", "Amount": 49900, "Token": "t"}
    assert parse_notification(body).payment_id == "7000000001"
    assert not verify_notification(body, PASSWORD)  # "t" is no token; none at all is no better
    assert not verify_notification({k: v for k, v in body.items() if k != "Token"}, PASSWORD)
    with pytest.raises(InvalidNotification):
        parse_notification({**body, **change})


def test_receipt_items_add_up_to_the_amount_and_the_bank_accepts_it(client: TBankClient, fake: TBankFake) -> None:
    receipt = order_receipt(amount_kopecks=149900, photos=23, email="user@example.com", taxation="osn", tax="vat20")
    assert sum(item["Amount"] for item in receipt["Items"]) == 149900 and receipt["Email"] == "user@example.com"
    client.init(order_id="o-receipt", amount=149900, description="x", notification_url="http://x/n", receipt=receipt)
    assert fake.state()["payments"][0]["receipt"] == receipt
    with pytest.raises(TBankError, match="code=308"):  # the items do not add up to this Amount
        client.init(order_id="o-r2", amount=99900, description="x", notification_url="http://x/n", receipt=receipt)
    with pytest.raises(ValueError):
        order_receipt(amount_kopecks=1000, photos=1, email="not an address", taxation="osn", tax="none")


def test_config_from_env_reads_knobs_and_refuses_bad_ones() -> None:
    config = config_from_env({"SANDBOX_TBANK_NOTIFY_DUPLICATES": "2", "SANDBOX_TBANK_NOTIFY_CONFIRMED_FIRST": "yes",
                              "SANDBOX_TBANK_NOTIFY_RETRY_INTERVAL_S": "0.25", "OTHER": "ignored"})
    assert (config.notify_duplicates, config.notify_confirmed_first, config.notify_retry_interval_s) == (2, True, 0.25)
    assert (config.terminal_key, config.password) == (TERMINAL, PASSWORD)
    with pytest.raises(ValueError, match="notify_max_attempts"):
        config_from_env({"SANDBOX_TBANK_NOTIFY_MAX_ATTEMPTS": "many"})


def test_reset_forgets_payments_and_restores_knobs(client: TBankClient, tbank: ServerHandle) -> None:
    configure(tbank, notify_duplicates=4)
    client.init(order_id="o-reset", amount=1000, description="x", notification_url="http://x/n")
    bad = SandboxClient(tbank=tbank.url).tbank.post("config", {"no_such_knob": 1})
    assert bad.status_code == 400 and "no_such_knob" in bad.json()["error"]
    SandboxClient(tbank=tbank.url).tbank.reset()
    state = SandboxClient(tbank=tbank.url).tbank.state()
    assert state["payments"] == state["requests"] == [] and state["config"]["notify_duplicates"] == 1
    assert "password" not in state["config"]


def test_answers_are_read_field_by_field_and_init_may_leave_out_order_and_amount() -> None:
    """A bank whose Init answer lacks OrderId and Amount (the request's are kept) and whose Cancel answer lacks
    NewAmount (refused, naming the method and the field)."""
    answers = {"Init": {"Success": True, "ErrorCode": "0", "PaymentId": 42, "Status": "NEW",
                        "PaymentURL": "https://pay.example/42"},
               "Cancel": {"Success": True, "ErrorCode": "0", "PaymentId": "42", "Status": "REFUNDED",
                          "OriginalAmount": "1000"}}
    bank = flask.Flask("tbank-terse")
    bank.add_url_rule("/<method>", view_func=lambda method: flask.jsonify(answers[method]), methods=["POST"])
    handle = serve("tbank-terse", bank, port=0)
    try:
        terse = TBankClient(handle.url, TERMINAL, PASSWORD)
        created = terse.init(order_id="o-terse", amount=1000, description="x", notification_url="http://x/n")
        assert (created.payment_id, created.payment_url, created.status, created.order_id, created.amount) == (
            "42", "https://pay.example/42", "NEW", "o-terse", 1000)
        with pytest.raises(TBankError, match="Cancel: answer has no valid NewAmount"):
            terse.cancel("42")
    finally:
        handle.stop()
